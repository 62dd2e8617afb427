"""Admission control for /predict: refuse, rather than queue, what is over the limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.errors import Overloaded


class Admission:
    """Counts /predict requests in flight and refuses those over the limit at once.

    Refusing keeps latency bounded for the admitted ones and tells a client (or a load
    balancer) to go elsewhere; the worker pool's queue can then never hold more than `limit`
    jobs. Used on the event loop only, so a plain counter is safe.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise Overloaded(
                f"The gateway is busy with {self.active} videos (MAX_INFLIGHT_REQUESTS="
                f"{self.limit}); retry in a moment.",
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
