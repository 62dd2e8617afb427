"""Delivery: what the receiver's answers lead to, retries and backoff, re-checks at each attempt,
and where the request really goes."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from api.callbacks import MAX_BACKOFF, CallbackState, check_callback_url, verify
from tests.callbacks.conftest import Send
from tests.support.callbacks import (
    JOB_ID,
    NOW,
    PUBLIC_IP,
    SECRET,
    Attempts,
    FakeDNS,
    Sleeps,
    allowing_loopback,
    local_only,
    make,
    mock_client,
)
from tests.support.ports import closed_port_url
from tests.support.receiver import HOLD, Answer, Receiver

pytestmark = pytest.mark.anyio
HOOKS = "https://hooks.example/cb"  # a name only the fake resolvers know


# --- the receiver's answers --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answers", "overrides", "seen"),
    [
        pytest.param(
            [Answer(500, body=b"database down"), 200],
            {},
            [("pending", 1, "HTTP 500 from the receiver: database down"), ("delivered", 2, None)],
            id="500 then 200",
        ),
        pytest.param(
            [Answer(401, body=b"bad signature")],
            {},
            [("failed", 1, "HTTP 401 from the receiver: bad signature")],
            id="a 4xx is not retried",
        ),
        pytest.param(
            [Answer(429, headers={"Retry-After": "7"}), 204],
            {},
            [("pending", 1, 'HTTP 429 from the receiver: {"ok": true}'), ("delivered", 2, None)],
            id="429 is retried",
        ),
        # The receiver holds every request until the test ends: the timeout fires however fast
        # or slow the machine is.
        pytest.param(
            [HOLD, HOLD, HOLD],
            {"CALLBACK_TIMEOUT": 0.2, "CALLBACK_MAX_ATTEMPTS": 3},
            [("pending", n, "timed out after 0.2 s") for n in (1, 2)]
            + [("failed", 3, "timed out after 0.2 s")],
            id="never answered: each attempt times out",
        ),
    ],
)
async def test_the_receivers_answers_decide_the_outcome(
    hook: Receiver,
    send: Send,
    sleeps: Sleeps,
    attempts: Attempts,
    answers: list[int | Answer],
    overrides: dict[str, Any],
    seen: list[tuple[str, int, str | None]],
) -> None:
    hook.answer_with(*answers)
    state = await send(hook.url, allowing_loopback(**overrides))
    assert (state.status, state.attempts, state.last_error) == seen[-1]
    assert attempts.summary() == seen
    # A wait after every attempt that left the callback pending, none after the last.
    assert len(sleeps.delays) == sum(status == "pending" for status, _, _ in seen)
    assert len(hook.requests) <= len(seen)


async def test_a_retry_sends_the_same_job_signed_again(
    hook: Receiver, send: Send, sleeps: Sleeps
) -> None:
    hook.answer_with(500, 200)
    await send(hook.url, allowing_loopback())
    requests = hook.wait_for(2)
    assert 0.5 <= sleeps.delays[0] <= 1.5  # CALLBACK_RETRY_BACKOFF, jittered
    assert [r.headers["X-Callback-Attempt"] for r in requests] == ["1", "2"]
    for got in requests:
        assert verify(got.body, got.headers, SECRET.encode(), max_age=1e12, now=NOW)
        assert json.loads(got.body)["id"] == JOB_ID  # the same job: receivers de-duplicate


async def test_429_waits_the_receivers_retry_after(
    hook: Receiver, send: Send, sleeps: Sleeps
) -> None:
    hook.answer_with(Answer(429, headers={"Retry-After": "7"}), 204)
    await send(hook.url, allowing_loopback())
    assert sleeps.delays == [7.0]  # longer than the backoff's 0.5..1.5 s


@pytest.mark.timeout(30)
async def test_an_endless_error_body_is_read_a_few_kb_only(hook: Receiver, send: Send) -> None:
    # With a 120 s attempt timeout, reading the whole (endless) body would hang past the mark.
    hook.answer_with(Answer(502, stream_forever=True))
    settings = allowing_loopback(CALLBACK_TIMEOUT=120, CALLBACK_MAX_ATTEMPTS=1)
    state = await send(hook.url, settings)
    assert state.status == "failed"
    assert state.last_error is not None
    assert state.last_error.startswith("HTTP 502 from the receiver: xxxx")
    assert len(state.last_error) < 300


async def test_a_redirect_is_not_followed(hook: Receiver, send: Send, sleeps: Sleeps) -> None:
    hook.answer_with(Answer(302, headers={"Location": hook.base_url + "/elsewhere"}))
    # A client that follows redirects by default: deliver must not.
    async with httpx.AsyncClient(follow_redirects=True) as client:
        state = await send(hook.url, allowing_loopback(), client)
    assert [r.path for r in hook.wait_for(1)] == ["/hook"]
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error is not None
    assert state.last_error.startswith("HTTP 302 from the receiver")
    assert "a redirect, not followed" in state.last_error
    assert sleeps.delays == []


async def test_connection_refused_is_retried(send: Send, sleeps: Sleeps) -> None:
    state = await send(closed_port_url() + "/hook", allowing_loopback(CALLBACK_MAX_ATTEMPTS=2))
    assert (state.status, state.attempts) == ("failed", 2)
    assert state.last_error is not None
    assert state.last_error.startswith("could not reach the receiver")
    assert len(sleeps.delays) == 1


# --- backoff and resumed states ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "backoff", "bounds"),
    [
        (503, 1.0, [(0.5 * 2**n, 1.5 * 2**n) for n in range(4)]),  # doubled, jittered
        (500, 100, [(50, MAX_BACKOFF)] * 4),  # capped
    ],
)
async def test_backoff_doubles_with_jitter_and_is_capped(
    send: Send, sleeps: Sleeps, status: int, backoff: float, bounds: list[tuple[float, float]]
) -> None:
    settings = make(CALLBACK_RETRY_BACKOFF=backoff)
    async with mock_client(status) as client:
        state = await send(HOOKS, settings, client, resolve=FakeDNS([PUBLIC_IP]))
    assert (state.status, state.attempts) == ("failed", 5)
    assert state.last_error == f"HTTP {status} from the receiver: mock"
    assert len(sleeps.delays) == len(bounds)
    for (low, high), delay in zip(bounds, sleeps.delays, strict=True):
        assert low <= delay <= high


@pytest.mark.parametrize(
    ("state", "after", "sent"),
    [
        pytest.param(
            CallbackState(HOOKS, attempts=4, last_error="earlier"),
            ("failed", 5, "HTTP 500 from the receiver: mock"),
            1,
            id="one attempt left",
        ),
        pytest.param(
            CallbackState(HOOKS, status="delivered", attempts=1),
            ("delivered", 1, None),
            0,
            id="already delivered",
        ),
        pytest.param(
            CallbackState(HOOKS, attempts=5, last_error="HTTP 500"),
            ("failed", 5, "HTTP 500"),
            0,
            id="no attempts left",
        ),
    ],
)
async def test_a_resumed_state_counts_its_earlier_attempts(
    send: Send, state: CallbackState, after: tuple[str, int, str | None], sent: int
) -> None:
    seen: list[httpx.Request] = []
    async with mock_client(500, seen) as client:
        returned = await send(state, make(), client, resolve=FakeDNS([PUBLIC_IP]))
    assert returned is state
    assert (state.status, state.attempts, state.last_error) == after
    assert len(seen) == sent  # nothing sent for the finished ones


# --- re-checks at delivery ---------------------------------------------------------------------
async def test_an_allow_list_change_is_honoured_at_delivery(
    hook: Receiver, send: Send, sleeps: Sleeps
) -> None:
    url = await check_callback_url(hook.url, allowing_loopback(), resolve=local_only)
    state = await send(url, make())
    assert hook.requests == []
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == "refused: 127.0.0.1 is a loopback address"
    assert sleeps.delays == []


async def test_a_dns_change_after_the_check_is_refused_without_sending(send: Send) -> None:
    url = await check_callback_url(HOOKS, make(), resolve=FakeDNS([PUBLIC_IP]))
    seen: list[httpx.Request] = []
    async with mock_client(200, seen) as client:
        state = await send(url, make(), client, resolve=FakeDNS(["10.0.0.5"]))
    assert seen == []
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == "refused: 'hooks.example' resolves to 10.0.0.5, a private address"


async def test_each_attempt_resolves_again_and_goes_to_the_checked_address(
    hook: Receiver, send: Send, attempts: Attempts
) -> None:
    # hooks.example exists only in the fake resolver: reaching the receiver proves the request
    # went to the address the check saw, not to a second lookup of its own.
    settings = make(CALLBACK_ALLOW_HOSTS=["hooks.example"])
    resolve = FakeDNS(socket.gaierror(socket.EAI_AGAIN, "temporary failure"), ["127.0.0.1"])
    hook.answer_with(500, 200)
    state = await send(f"http://hooks.example:{hook.port}/hook", settings, resolve=resolve)
    requests = hook.wait_for(2)
    assert (state.status, state.attempts) == ("delivered", 3)
    assert [s.last_error for s in attempts.seen] == [
        "refused: 'hooks.example' does not resolve to an address",  # a DNS failure is retried
        'HTTP 500 from the receiver: {"ok": true}',
        None,
    ]
    assert resolve.calls == ["hooks.example"] * 3
    assert [r.headers["Host"] for r in requests] == [f"hooks.example:{hook.port}"] * 2


async def test_https_keeps_the_name_for_tls_while_connecting_to_the_checked_ip(
    send: Send,
) -> None:
    seen: list[httpx.Request] = []
    async with mock_client(200, seen) as client:
        for url in ("https://hooks.example:8443/cb", f"https://{PUBLIC_IP}/cb"):
            await send(url, make(), client, resolve=FakeDNS([PUBLIC_IP]))
    named, literal = seen
    assert named.url == httpx.URL(f"https://{PUBLIC_IP}:8443/cb")
    assert named.headers["Host"] == "hooks.example:8443"
    assert named.extensions["sni_hostname"] == "hooks.example"  # the certificate's name
    assert literal.headers["Host"] == PUBLIC_IP
    assert "sni_hostname" not in literal.extensions  # no SNI for an IP
