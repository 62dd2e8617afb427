"""Job callbacks: URL checks, signed delivery to a real local receiver, retries, re-checks.

No network beyond loopback: literal IPs and "localhost" go through the real getaddrinfo (guarded
so that a name needing DNS fails the test), other names through fake resolvers.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx
import pytest

import api
from api.callbacks import (
    MAX_BACKOFF,
    MAX_URL_LENGTH,
    CallbackState,
    callback_client,
    check_callback_url,
    deliver,
    resolve_host,
    sign,
    verify,
)
from api.errors import InvalidRequest
from settings import Settings
from tests.support.receiver import HOLD, Answer, receiver

pytestmark = pytest.mark.anyio
SECRET = "test-callback-secret"
JOB_ID = "job-0001"
NOW = 1_700_000_000
PUBLIC_IP = "93.184.216.34"  # only ever answered by fake resolvers and mock transports
PUBLIC_ONLY = "callbacks go to public addresses only"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"CALLBACK_SECRET": SECRET, "CALLBACK_RETRY_BACKOFF": 1.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def job_body(state: CallbackState, sent_at: int) -> bytes:
    """What the jobs backend sends: the job's JSON with the callback state and sent_at."""
    job = {"id": JOB_ID, "status": "done", "callback": state.public(sent_at=sent_at)}
    return json.dumps(job).encode()


async def local_only(host: str, port: int) -> Sequence[str]:
    """The real resolver, for hosts that need no DNS server: literal IPs and localhost."""
    if host != "localhost" and not re.fullmatch(r"[0-9a-fx.:]+", host):
        raise AssertionError(f"the test would have asked DNS for {host!r}")
    return await resolve_host(host, port)


def fake_dns(*answers: Sequence[str] | Exception) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    """A resolver giving these answers in turn (the last one from then on), counting calls."""
    calls: list[str] = []

    async def resolve(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


class Sleeps:
    """Backoff waits, recorded instead of slept."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Attempts:
    """on_attempt: a copy of the state after each attempt."""

    def __init__(self) -> None:
        self.seen: list[CallbackState] = []

    async def __call__(self, state: CallbackState) -> None:
        self.seen.append(replace(state))


def mock_client(status: int = 200, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, stream=httpx.ByteStream(b"mock"))  # as a server sends it

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


# --- signature and headers ---------------------------------------------------------------------
async def test_signed_delivery_is_verified_by_the_receiver() -> None:
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"])
    with receiver() as hook:
        url = await check_callback_url(hook.url, settings, resolve=local_only)
        assert url == hook.url
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(url),
                job_body,
                settings,
                client,
                job_id=JOB_ID,
                resolve=local_only,
                clock=lambda: NOW + 0.7,
            )
        assert (state.status, state.attempts, state.last_error) == ("delivered", 1, None)
        (got,) = hook.wait_for(1)

    secret = SECRET.encode()
    assert verify(got.body, got.headers, secret, max_age=300, now=NOW + 60)
    headers = {name.lower(): value for name, value in got.headers.items()}
    assert headers["x-signature"] == sign(got.body, secret)
    assert headers["x-signature-timestamp"] == str(NOW)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"deepfake-gateway/{api.__version__}"
    assert headers["x-callback-attempt"] == "1"
    assert headers["x-job-id"] == JOB_ID
    assert json.loads(got.body)["callback"] == {
        "status": "pending",
        "attempts": 1,
        "last_error": None,
        "sent_at": NOW,
    }
    # Forgeries and replays a receiver must refuse:
    assert not verify(got.body, got.headers, b"another-secret", max_age=300, now=NOW)
    assert not verify(got.body.replace(b"done", b"fail"), got.headers, secret, max_age=300, now=NOW)
    assert not verify(got.body, got.headers, secret, max_age=300, now=NOW + 301)  # too old
    moved = {**got.headers, "X-Signature-Timestamp": str(NOW + 3600)}  # a replay, re-dated
    assert not verify(got.body, moved, secret, max_age=300, now=NOW + 3600)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b'{"callback": {"sent_at": 1}}', {}, id="no headers"),
        pytest.param(b'{"id": "j"}', {"X-Signature-Timestamp": str(NOW)}, id="no sent_at"),
        pytest.param(b"not json", {"X-Signature-Timestamp": str(NOW)}, id="not json"),
        pytest.param(
            b'{"callback": {"sent_at": "%d"}}' % NOW,
            {"X-Signature-Timestamp": str(NOW)},
            id="sent_at as text",
        ),
        pytest.param(
            b'{"callback": {"sent_at": %d}}' % NOW,
            {"X-Signature-Timestamp": "soon"},
            id="header not a number",
        ),
    ],
)
def test_verify_refuses_bodies_without_a_matching_signed_timestamp(
    body: bytes, headers: dict[str, str]
) -> None:
    secret = SECRET.encode()
    if headers:
        headers = {**headers, "x-signature": sign(body, secret)}  # any case of header name
    assert not verify(body, headers, secret, max_age=300, now=NOW)


def test_verify_accepts_lowercase_header_names() -> None:
    body = b'{"callback": {"sent_at": %d}}' % NOW
    headers = {"x-signature": sign(body, b"k"), "x-signature-timestamp": str(NOW)}
    assert verify(body, headers, b"k", max_age=300, now=NOW - 10)  # a slightly slow receiver clock


# --- retries -----------------------------------------------------------------------------------
async def test_500_then_200_is_two_attempts() -> None:
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"])
    sleeps, attempts = Sleeps(), Attempts()
    with receiver() as hook:
        hook.answer_with(Answer(500, body=b"database down"), 200)
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(hook.url),
                job_body,
                settings,
                client,
                attempts,
                resolve=local_only,
                sleep=sleeps,
            )
        requests = hook.wait_for(2)

    assert (state.status, state.attempts, state.last_error) == ("delivered", 2, None)
    assert [(s.status, s.attempts, s.last_error) for s in attempts.seen] == [
        ("pending", 1, "HTTP 500 from the receiver: database down"),
        ("delivered", 2, None),
    ]
    assert len(sleeps.delays) == 1
    assert 0.5 <= sleeps.delays[0] <= 1.5  # CALLBACK_RETRY_BACKOFF, jittered
    assert len(requests) == 2
    assert [r.headers["X-Callback-Attempt"] for r in requests] == ["1", "2"]
    for got in requests:
        assert verify(got.body, got.headers, SECRET.encode(), max_age=1e12, now=NOW)
        assert json.loads(got.body)["id"] == JOB_ID  # the same job: receivers de-duplicate


async def test_a_4xx_is_not_retried() -> None:
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"])
    sleeps, attempts = Sleeps(), Attempts()
    with receiver() as hook:
        hook.answer_with(Answer(401, body=b"bad signature"))
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(hook.url),
                job_body,
                settings,
                client,
                attempts,
                resolve=local_only,
                sleep=sleeps,
            )
        assert len(hook.wait_for(1)) == 1

    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == "HTTP 401 from the receiver: bad signature"
    assert len(attempts.seen) == 1
    assert sleeps.delays == []


async def test_429_is_retried_after_the_receivers_retry_after() -> None:
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"])
    sleeps = Sleeps()
    with receiver() as hook:
        hook.answer_with(Answer(429, headers={"Retry-After": "7"}), 204)
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(hook.url),
                job_body,
                settings,
                client,
                resolve=local_only,
                sleep=sleeps,
            )
    assert (state.status, state.attempts) == ("delivered", 2)
    assert sleeps.delays == [7.0]  # longer than the backoff's 0.5..1.5 s


async def test_a_receiver_that_never_answers_times_out_each_attempt() -> None:
    # The receiver holds every request until the test ends: the timeout fires however fast or
    # slow the machine is.
    settings = make(
        CALLBACK_ALLOW_HOSTS=["127.0.0.1"], CALLBACK_TIMEOUT=0.2, CALLBACK_MAX_ATTEMPTS=3
    )
    sleeps, attempts = Sleeps(), Attempts()
    with receiver() as hook:
        hook.answer_with(HOLD, HOLD, HOLD)
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(hook.url),
                job_body,
                settings,
                client,
                attempts,
                resolve=local_only,
                sleep=sleeps,
            )
        assert len(hook.requests) <= 3

    assert (state.status, state.attempts) == ("failed", 3)
    assert state.last_error == "timed out after 0.2 s"
    assert [(s.status, s.attempts) for s in attempts.seen] == [
        ("pending", 1),
        ("pending", 2),
        ("failed", 3),
    ]
    assert len(sleeps.delays) == 2


@pytest.mark.timeout(30)
async def test_an_endless_error_body_is_read_a_few_kb_only() -> None:
    # With a 120 s attempt timeout, reading the whole (endless) body would hang past the mark.
    settings = make(
        CALLBACK_ALLOW_HOSTS=["127.0.0.1"], CALLBACK_TIMEOUT=120, CALLBACK_MAX_ATTEMPTS=1
    )
    with receiver() as hook:
        hook.answer_with(Answer(502, stream_forever=True))
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(hook.url), job_body, settings, client, resolve=local_only
            )
    assert state.status == "failed"
    assert state.last_error is not None
    assert state.last_error.startswith("HTTP 502 from the receiver: xxxx")
    assert len(state.last_error) < 300


async def test_a_redirect_is_not_followed() -> None:
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"])
    sleeps = Sleeps()
    with receiver() as hook:
        hook.answer_with(Answer(302, headers={"Location": hook.base_url + "/elsewhere"}))
        # A client that follows redirects by default: deliver must not.
        async with httpx.AsyncClient(follow_redirects=True) as client:
            state = await deliver(
                CallbackState(hook.url),
                job_body,
                settings,
                client,
                resolve=local_only,
                sleep=sleeps,
            )
        paths = [r.path for r in hook.wait_for(1)]

    assert paths == ["/hook"]
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error is not None
    assert state.last_error.startswith("HTTP 302 from the receiver")
    assert "a redirect, not followed" in state.last_error
    assert sleeps.delays == []


async def test_connection_refused_is_retried() -> None:
    with socket.socket() as sock:  # a port nothing listens on (just closed)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"], CALLBACK_MAX_ATTEMPTS=2)
    sleeps = Sleeps()
    async with callback_client(settings) as client:
        state = await deliver(
            CallbackState(f"http://127.0.0.1:{port}/hook"),
            job_body,
            settings,
            client,
            resolve=local_only,
            sleep=sleeps,
        )
    assert (state.status, state.attempts) == ("failed", 2)
    assert state.last_error is not None
    assert state.last_error.startswith("could not reach the receiver")
    assert len(sleeps.delays) == 1


async def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    resolve = fake_dns([PUBLIC_IP])
    sleeps = Sleeps()
    async with mock_client(503) as client:
        state = await deliver(
            CallbackState("https://hooks.example/cb"),
            job_body,
            make(),
            client,
            resolve=resolve,
            sleep=sleeps,
        )
    assert (state.status, state.attempts) == ("failed", 5)
    assert state.last_error == "HTTP 503 from the receiver: mock"
    assert len(sleeps.delays) == 4
    for n, delay in enumerate(sleeps.delays):
        assert 0.5 * 2**n <= delay <= 1.5 * 2**n

    sleeps = Sleeps()
    async with mock_client(500) as client:
        await deliver(
            CallbackState("https://hooks.example/cb"),
            job_body,
            make(CALLBACK_RETRY_BACKOFF=100),
            client,
            resolve=resolve,
            sleep=sleeps,
        )
    assert len(sleeps.delays) == 4
    assert all(50 <= delay <= MAX_BACKOFF for delay in sleeps.delays)


async def test_a_resumed_state_counts_its_earlier_attempts() -> None:
    resolve = fake_dns([PUBLIC_IP])
    seen: list[httpx.Request] = []
    async with mock_client(500, seen) as client:
        state = CallbackState("https://hooks.example/cb", attempts=4, last_error="earlier")
        await deliver(state, job_body, make(), client, resolve=resolve, sleep=Sleeps())
        assert (state.status, state.attempts, len(seen)) == ("failed", 5, 1)

        done = CallbackState("https://hooks.example/cb", status="delivered", attempts=1)
        assert await deliver(done, job_body, make(), client, resolve=resolve) == done
        spent = CallbackState("https://hooks.example/cb", attempts=5, last_error="HTTP 500")
        await deliver(spent, job_body, make(), client, resolve=resolve)
        assert (spent.status, spent.last_error) == ("failed", "HTTP 500")
    assert len(seen) == 1  # nothing sent for the finished ones


# --- the URL check -----------------------------------------------------------------------------
LOOPBACK_NAME = ("resolves to 127.0.0.1, a loopback address", PUBLIC_ONLY)


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("file:///etc/passwd", ["must start with http:// or https:// (got 'file:')"]),
        ("ftp://example.com/hook", ["must start with http:// or https:// (got 'ftp:')"]),
        ("example.com/hook", ["must start with http:// or https://"]),
        ("https://user:pass@example.com/hook", ["must not contain credentials (user:password@)"]),
        ("https://token@example.com/hook", ["must not contain credentials"]),
        ("http:///hook", ["the URL has no host"]),
        ("https://exa mple.com/hook", ["is not a valid host name"]),
        ("http://example.com:0/hook", ["port 0 is out of range (1-65535)"]),
        ("http://example.com:99999/hook", ["port 99999 is out of range"]),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, ["at most 2048 are"]),
        ("http://0177.0.0.1/", ["not a valid URL"]),
        ("http://10.1.2.3/hook", ["10.1.2.3 is a private address", PUBLIC_ONLY]),
        ("http://172.16.0.1/hook", ["172.16.0.1 is a private address"]),
        ("http://192.168.1.1/hook", ["192.168.1.1 is a private address"]),
        ("http://[fc00::1]/hook", ["fc00::1 is a private address"]),
        ("http://100.64.0.1/", ["100.64.0.1 is a shared address (carrier-grade NAT)"]),
        (
            "http://169.254.169.254/latest/meta-data/",
            ["169.254.169.254 is a link-local address (cloud metadata)"],
        ),
        ("http://[fe80::1]/hook", ["fe80::1 is a link-local address"]),
        ("http://[::1]:8080/hook", ["::1 is a loopback address"]),
        (
            "http://[::ffff:127.0.0.1]/hook",
            ["::ffff:127.0.0.1 is a loopback address in IPv6 form (127.0.0.1)"],
        ),
        ("http://[::ffff:10.0.0.5]/hook", ["a private address in IPv6 form (10.0.0.5)"]),
        ("http://[64:ff9b::a9fe:a9fe]/", ["a link-local address (cloud metadata) in IPv6 form"]),
        ("http://0.0.0.0:8000/hook", ["0.0.0.0 is an unspecified address"]),
        ("http://[::]/hook", [":: is an unspecified address"]),
        ("http://224.0.0.1/hook", ["224.0.0.1 is a multicast address"]),
        ("http://240.0.0.1/hook", ["240.0.0.1 is a reserved address"]),
        ("http://localhost:8000/hook", ["'localhost' resolves to", "a loopback address"]),
        ("http://LOCALHOST/hook", ["'localhost' resolves to"]),
        ("http://2130706433/hook", ["'2130706433' ", *LOOPBACK_NAME]),
        ("http://0x7f.1/hook", ["'0x7f.1' ", *LOOPBACK_NAME]),
        ("http://127.1/hook", ["'127.1' ", *LOOPBACK_NAME]),
        ("http://017700000001/hook", ["'017700000001' ", *LOOPBACK_NAME]),
        ("http://0/hook", ["'0' resolves to 0.0.0.0, an unspecified address"]),
    ],
)
async def test_refused_urls(url: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await check_callback_url(url, make(), resolve=local_only)
    assert refused.value.status_code == 422
    assert refused.value.code == "invalid_request"
    assert refused.value.message.startswith("callback_url refused: ")
    for fragment in fragments:
        assert fragment in refused.value.message


async def test_names_are_refused_by_every_address_they_resolve_to() -> None:
    cases: list[tuple[Sequence[str] | Exception, str]] = [
        (["127.0.0.1"], "'hooks.example' resolves to 127.0.0.1, a loopback address"),
        ([PUBLIC_IP, "10.0.0.5"], "'hooks.example' resolves to 10.0.0.5, a private address"),
        (["::ffff:169.254.169.254"], "cloud metadata"),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), "'hooks.example' does not resolve"),
        ([], "'hooks.example' does not resolve to an address"),
    ]
    for answer, fragment in cases:
        with pytest.raises(InvalidRequest, match=re.escape(fragment)):
            await check_callback_url("https://hooks.example/cb", make(), resolve=fake_dns(answer))


async def test_a_resolver_that_never_answers_is_given_up() -> None:
    async def stuck(host: str, port: int) -> Sequence[str]:
        await anyio_sleep_forever()
        raise AssertionError("unreachable")

    with pytest.raises(InvalidRequest, match=r"'hooks.example' could not be resolved within 0.1 s"):
        await check_callback_url(
            "https://hooks.example/", make(CALLBACK_TIMEOUT=0.1), resolve=stuck
        )


async def anyio_sleep_forever() -> None:
    import anyio

    await anyio.sleep_forever()


async def test_without_a_secret_callbacks_are_refused_before_any_lookup() -> None:
    resolve = fake_dns([PUBLIC_IP])
    with pytest.raises(InvalidRequest) as refused:
        await check_callback_url(
            "https://hooks.example/cb", make(CALLBACK_SECRET=""), resolve=resolve
        )
    assert "callbacks need CALLBACK_SECRET on this server" in refused.value.message
    assert resolve.calls == []  # type: ignore[attr-defined]


async def test_the_allow_list_skips_the_address_check_only() -> None:
    allowed = make(CALLBACK_ALLOW_HOSTS=["127.0.0.1", "LocalHost", "::1"])
    assert await check_callback_url("http://127.0.0.1:8000/hook", allowed, resolve=local_only) == (
        "http://127.0.0.1:8000/hook"
    )
    assert await check_callback_url("http://localhost/hook", allowed, resolve=local_only)
    assert await check_callback_url("http://[0:0::1]:9/hook", allowed, resolve=local_only) == (
        "http://[::1]:9/hook"
    )
    for url, fragment in [
        ("http://2130706433/hook", "a loopback address"),  # not "127.0.0.1" as written
        ("ftp://127.0.0.1/hook", "must start with http://"),
        ("http://user:pass@127.0.0.1/hook", "must not contain credentials"),
        ("http://10.0.0.5/hook", "a private address"),
    ]:
        with pytest.raises(InvalidRequest, match=re.escape(fragment)):
            await check_callback_url(url, allowed, resolve=local_only)


async def test_the_url_is_normalized() -> None:
    url = await check_callback_url(
        "HTTPS://Hooks.EXAMPLE/cb?x=1#fragment", make(), resolve=fake_dns([PUBLIC_IP])
    )
    assert url == "https://hooks.example/cb?x=1"


# --- re-checks at delivery ---------------------------------------------------------------------
async def test_an_allow_list_change_is_honoured_at_delivery() -> None:
    with receiver() as hook:
        url = await check_callback_url(
            hook.url, make(CALLBACK_ALLOW_HOSTS=["127.0.0.1"]), resolve=local_only
        )
        sleeps = Sleeps()
        async with callback_client(make()) as client:
            state = await deliver(
                CallbackState(url), job_body, make(), client, resolve=local_only, sleep=sleeps
            )
        assert hook.requests == []
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == "refused: 127.0.0.1 is a loopback address"
    assert sleeps.delays == []


async def test_a_dns_change_after_the_check_is_refused_without_sending() -> None:
    url = await check_callback_url(
        "https://hooks.example/cb", make(), resolve=fake_dns([PUBLIC_IP])
    )
    seen: list[httpx.Request] = []
    async with mock_client(200, seen) as client:
        state = await deliver(
            CallbackState(url),
            job_body,
            make(),
            client,
            resolve=fake_dns(["10.0.0.5"]),
            sleep=Sleeps(),
        )
    assert seen == []
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == "refused: 'hooks.example' resolves to 10.0.0.5, a private address"


async def test_each_attempt_resolves_again_and_goes_to_the_checked_address() -> None:
    # hooks.example exists only in the fake resolver: reaching the receiver proves the request
    # went to the address the check saw, not to a second lookup of its own.
    settings = make(CALLBACK_ALLOW_HOSTS=["hooks.example"])
    failing = socket.gaierror(socket.EAI_AGAIN, "temporary failure")
    resolve = fake_dns(failing, ["127.0.0.1"])
    attempts = Attempts()
    with receiver() as hook:
        hook.answer_with(500, 200)
        async with callback_client(settings) as client:
            state = await deliver(
                CallbackState(f"http://hooks.example:{hook.port}/hook"),
                job_body,
                settings,
                client,
                attempts,
                resolve=resolve,
                sleep=Sleeps(),
            )
        requests = hook.wait_for(2)
    assert (state.status, state.attempts) == ("delivered", 3)
    assert [s.last_error for s in attempts.seen] == [
        "refused: 'hooks.example' does not resolve to an address",  # a DNS failure is retried
        'HTTP 500 from the receiver: {"ok": true}',
        None,
    ]
    assert resolve.calls == ["hooks.example"] * 3  # type: ignore[attr-defined]
    assert [r.headers["Host"] for r in requests] == [f"hooks.example:{hook.port}"] * 2


async def test_https_keeps_the_name_for_tls_while_connecting_to_the_checked_ip() -> None:
    seen: list[httpx.Request] = []
    async with mock_client(200, seen) as client:
        await deliver(
            CallbackState("https://hooks.example:8443/cb"),
            job_body,
            make(),
            client,
            resolve=fake_dns([PUBLIC_IP]),
        )
        await deliver(
            CallbackState(f"https://{PUBLIC_IP}/cb"),
            job_body,
            make(),
            client,
            resolve=fake_dns([PUBLIC_IP]),
        )
    named, literal = seen
    assert named.url == httpx.URL(f"https://{PUBLIC_IP}:8443/cb")
    assert named.headers["Host"] == "hooks.example:8443"
    assert named.extensions["sni_hostname"] == "hooks.example"  # the certificate's name
    assert literal.headers["Host"] == PUBLIC_IP
    assert "sni_hostname" not in literal.extensions  # no SNI for an IP


# --- the stored state --------------------------------------------------------------------------
def test_state_round_trips_through_a_dict() -> None:
    state = CallbackState("https://hooks.example/cb", "failed", 5, "timed out after 10 s")
    assert CallbackState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert CallbackState.from_dict({"url": "https://h.example/"}) == CallbackState(
        "https://h.example/"
    )
    assert state.public() == {
        "status": "failed",
        "attempts": 5,
        "last_error": "timed out after 10 s",
    }
    with pytest.raises(ValueError, match="unknown callback status 'sent'"):
        CallbackState.from_dict({"url": "https://h.example/", "status": "sent"})
