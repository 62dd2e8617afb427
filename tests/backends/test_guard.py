"""Retries only where safe, and a circuit breaker, against the fault-injecting test server."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from api.backends import CircuitBreaker, GuardedBackend, TFServingBackend
from api.backends.guard import BreakerState, CircuitOpen
from api.errors import BackendBadResponse, BackendError, BackendTimeout, BackendUnavailable
from settings import WireFormat
from tests.conftest import MODEL
from tests.support.tf_serving import Fault, TFServingTestServer

pytestmark = pytest.mark.anyio
BATCH = np.full((2, 64, 64, 3), 51, np.uint8)  # scores 0.2


class Clock:
    """A clock the test moves by hand, so cooldowns need no sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def guarded(
    client: httpx.AsyncClient, url: str, clock: Clock, sleeps: Sleeps, retries: int = 2
) -> GuardedBackend:
    return GuardedBackend(
        TFServingBackend(client, url, MODEL, 1, wire=WireFormat.UINT8),  # no metadata call
        retries=retries,
        backoff=0.1,
        breaker=CircuitBreaker(failures=3, cooldown=10.0, clock=clock),
        sleep=sleeps,
    )


def state_of(backend: GuardedBackend) -> BreakerState:
    """Read through a call, so the type checker does not keep a stale narrowing."""
    return backend.breaker.state


def requests_since(serving: TFServingTestServer, before: int) -> int:
    return len(serving.state.requests) - before


@pytest.mark.parametrize(
    "fault",
    [Fault(503), Fault(429), Fault(404, b'{"error": "Servable not found"}'), Fault(drop=True)],
    ids=["503", "429", "404-loading", "dropped"],
)
async def test_transient_failures_are_retried_with_backoff(
    client: httpx.AsyncClient, serving: TFServingTestServer, fault: Fault
) -> None:
    sleeps, before = Sleeps(), len(serving.state.requests)
    serving.state.inject(fault, fault)
    scores = (await guarded(client, serving.url, Clock(), sleeps).predict(BATCH)).scores
    assert scores == pytest.approx([0.2, 0.2], abs=1e-5)  # float32 mean of 4096 pixels
    assert requests_since(serving, before) == 3
    # Exponential, jittered within [0.5x, 1.5x].
    assert 0.05 <= sleeps.delays[0] <= 0.15
    assert 0.1 <= sleeps.delays[1] <= 0.3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(500), BackendError),
        (Fault(400), BackendError),
        (Fault(200, b'{"predictions": [[NaN], [0.1]]}'), BackendBadResponse),
        (Fault(200, b"", hold=True), BackendTimeout),
    ],
    ids=["500", "400", "nan", "timeout"],
)
async def test_failures_that_would_repeat_are_not_retried(
    client: httpx.AsyncClient, serving: TFServingTestServer, fault: Fault, error: type[Exception]
) -> None:
    sleeps, before = Sleeps(), len(serving.state.requests)
    serving.state.inject(fault)
    with pytest.raises(error):
        await guarded(client, serving.url, Clock(), sleeps).predict(BATCH)
    assert requests_since(serving, before) == 1
    assert sleeps.delays == []


async def test_retries_are_bounded(client: httpx.AsyncClient, serving: TFServingTestServer) -> None:
    before = len(serving.state.requests)
    serving.state.inject(*[Fault(503)] * 5)
    with pytest.raises(BackendUnavailable, match="overloaded"):
        await guarded(client, serving.url, Clock(), Sleeps(), retries=2).predict(BATCH)
    assert requests_since(serving, before) == 3


async def test_breaker_opens_fails_fast_and_recovers(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    clock = Clock()
    backend = guarded(client, serving.url, clock, Sleeps(), retries=0)
    serving.state.inject(*[Fault(503)] * 3)
    for _ in range(3):
        with pytest.raises(BackendUnavailable, match="overloaded"):
            await backend.predict(BATCH)
    assert state_of(backend) is BreakerState.OPEN

    before = len(serving.state.requests)
    with pytest.raises(CircuitOpen, match="paused for 10 s") as caught:
        await backend.predict(BATCH)
    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"] == "10"
    assert requests_since(serving, before) == 0  # no traffic while open
    assert "circuit open" in (await backend.status()).detail

    clock.now = 10.5  # cooldown over: one trial goes out, and its success closes the circuit
    assert state_of(backend) is BreakerState.HALF_OPEN
    assert (await backend.predict(BATCH)).scores.shape == (2,)
    assert state_of(backend) is BreakerState.CLOSED


async def test_failed_trial_reopens_the_circuit(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    clock = Clock()
    backend = guarded(client, serving.url, clock, Sleeps(), retries=0)
    serving.state.inject(*[Fault(503)] * 4)
    for _ in range(3):
        with pytest.raises(BackendUnavailable):
            await backend.predict(BATCH)
    clock.now = 11.0
    with pytest.raises(BackendUnavailable, match="overloaded"):  # the trial itself fails
        await backend.predict(BATCH)
    assert state_of(backend) is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        await backend.predict(BATCH)


async def test_successes_reset_the_failure_count(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    backend = guarded(client, serving.url, Clock(), Sleeps(), retries=0)
    for _ in range(3):
        serving.state.inject(Fault(503), Fault(503))
        for _ in range(2):
            with pytest.raises(BackendUnavailable):
                await backend.predict(BATCH)
        await backend.predict(BATCH)
    assert state_of(backend) is BreakerState.CLOSED


async def test_client_errors_do_not_open_the_circuit(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    backend = guarded(client, serving.url, Clock(), Sleeps(), retries=0)
    serving.state.inject(*[Fault(400)] * 5)
    for _ in range(5):
        with pytest.raises(BackendError):
            await backend.predict(BATCH)
    assert state_of(backend) is BreakerState.CLOSED


async def test_crop_size_is_retried_but_only_scoring_closes_the_circuit(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    clock, sleeps = Clock(), Sleeps()
    backend = guarded(client, serving.url, clock, sleeps, retries=2)
    serving.state.inject(Fault(503))  # the metadata read, retried
    assert await backend.crop_size() == 64
    assert len(sleeps.delays) == 1

    backend.retries = 0
    serving.state.inject(*[Fault(503)] * 2)  # with the metadata read's outage: 3 in a row
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="overloaded"):
            await backend.predict(BATCH)
    assert state_of(backend) is BreakerState.OPEN
    before = len(serving.state.requests)
    with pytest.raises(CircuitOpen):  # open: refused before the upload is read
        await backend.crop_size()
    assert requests_since(serving, before) == 0

    clock.now = 10.5
    assert await backend.crop_size() == 64  # cached: says nothing about the server
    assert state_of(backend) is BreakerState.HALF_OPEN
    await backend.predict(BATCH)  # the trial
    assert state_of(backend) is BreakerState.CLOSED
