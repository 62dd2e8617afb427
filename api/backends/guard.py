"""Retries and a circuit breaker around a remote backend.

Scoring is a pure function of the crops, so a request may be repeated, but only when the
failure says nothing was scored and waiting may help: refused connections, a model still
loading (404) and overload (429/503) are retried with jittered exponential backoff. Timeouts
are not (the caller already waited REQUEST_TIMEOUT) and neither are 400/500 or nonsense
answers (they would fail again). After BREAKER_FAILURES consecutive outages the circuit opens:
requests fail at once with 503 and Retry-After, sparing the workers and the model server,
until one trial request after the cooldown succeeds. `crop_size` (asked before each upload is
read) is retried the same way and its outages count, but only scoring calls are trials: its
answer is mostly cached and says nothing about the server's health.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import numpy as np

from api.backends.base import BackendName, BackendStatus, Scored, ScoringBackend
from api.errors import BackendError, BackendTimeout, BackendUnavailable

T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(BackendUnavailable):
    code = "backend_circuit_open"


class CircuitBreaker:
    """Consecutive-failure breaker. Runs on the event loop only, so it needs no lock."""

    def __init__(
        self,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go out now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._state = BreakerState.HALF_OPEN
            self._trial_running = True
            return
        wait = max(1, math.ceil(self._remaining()))
        raise CircuitOpen(
            f"The model server failed {self._failures} times in a row; requests are paused "
            f"for {wait} s to let it recover.",
            headers={"Retry-After": str(wait)},
        )

    def on_success(self) -> None:
        self._failures = 0
        self._state = BreakerState.CLOSED
        self._trial_running = False

    def on_failure(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()

    def _remaining(self) -> float:
        return self._opened_at + self.cooldown - self._clock()


def is_retryable(exc: BackendError) -> bool:
    return isinstance(exc, BackendUnavailable) and not isinstance(exc, CircuitOpen)


def is_outage(exc: BackendError) -> bool:
    return isinstance(exc, BackendUnavailable | BackendTimeout) and not isinstance(exc, CircuitOpen)


class GuardedBackend(ScoringBackend):
    def __init__(
        self,
        inner: ScoringBackend,
        *,
        retries: int,
        backoff: float,
        breaker: CircuitBreaker,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner = inner
        self.name: BackendName = inner.name
        self.retries = retries
        self.backoff = backoff
        self.breaker = breaker
        self._sleep = sleep

    async def predict(self, crops: np.ndarray) -> Scored:
        return await self._call(lambda: self.inner.predict(crops), trial=True)

    async def crop_size(self) -> int:
        return await self._call(self.inner.crop_size, trial=False)

    async def _call(self, call: Callable[[], Awaitable[T]], *, trial: bool) -> T:
        """`call` with retries; `trial`: it may be the half-open trial, and success closes."""
        for attempt in range(self.retries + 1):
            if trial or self.breaker.state is BreakerState.OPEN:
                self.breaker.before_call()  # nothing goes out while the circuit is open
            try:
                result = await call()
            except BackendError as exc:
                if is_outage(exc):
                    self.breaker.on_failure()
                retry = is_retryable(exc) and self.breaker.state is BreakerState.CLOSED
                if attempt == self.retries or not retry:
                    raise
                await self._sleep(self.backoff * 2**attempt * random.uniform(0.5, 1.5))
            else:
                if trial:
                    self.breaker.on_success()
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def status(self) -> BackendStatus:
        status = await self.inner.status()
        if self.breaker.state is BreakerState.CLOSED:
            return status
        return BackendStatus(
            ready=status.ready,
            detail=f"{status.detail} (circuit {self.breaker.state})",
            version=status.version,
        )

    async def close(self) -> None:
        await self.inner.close()
