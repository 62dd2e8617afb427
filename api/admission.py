"""Admission control for uploads and predictions: refuse, rather than queue, what is over a limit.

Two counts, because receiving an upload and processing it cost different things. Receiving costs
a socket and disk, and lasts as long as the client takes to send; processing costs the worker
pool. A client that stalls mid-upload must not hold a processing slot, or eight slow clients lock
everyone out (MAX_INFLIGHT_REQUESTS=8): uploads are counted apart (MAX_CONCURRENT_UPLOADS), and
a processing slot is taken only once the body has fully arrived.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from api.errors import Overloaded


class Admission:
    """Counts uploads being received and predictions being processed; refuses at once over the
    limits.

    Refusing keeps latency bounded for the admitted ones and tells a client (or a load
    balancer) to go elsewhere; the worker pool's queue can then never hold more than
    `processing_limit` predictions. Used on the event loop only, so plain counters are safe.
    """

    def __init__(self, processing_limit: int, upload_limit: int) -> None:
        self.processing_limit = processing_limit
        self.upload_limit = upload_limit
        self.processing = 0  # predictions past their upload, being decoded and scored
        self.receiving = 0  # uploads whose body is still arriving

    def _busy(self) -> Overloaded:
        return Overloaded(
            f"The gateway is busy with {self.processing} videos (MAX_INFLIGHT_REQUESTS="
            f"{self.processing_limit}); retry in a moment.",
        )

    def refuse_if_busy(self) -> None:
        """The cheap early refusal: when every processing slot is taken as the request arrives,
        refuse before a byte of its upload is read (it would most likely be refused after)."""
        if self.processing >= self.processing_limit:
            raise self._busy()

    @contextmanager
    def receiving_upload(self) -> Iterator[None]:
        """Hold an upload slot while the body arrives."""
        if self.receiving >= self.upload_limit:
            raise Overloaded(
                f"The gateway is receiving {self.receiving} uploads already "
                f"(MAX_CONCURRENT_UPLOADS={self.upload_limit}); retry in a moment.",
            )
        self.receiving += 1
        try:
            yield
        finally:
            self.receiving -= 1

    @contextmanager
    def processing_slot(self) -> Iterator[None]:
        """Hold a processing slot while a prediction whose upload has arrived runs."""
        if self.processing >= self.processing_limit:
            raise self._busy()
        self.processing += 1
        try:
            yield
        finally:
            self.processing -= 1
