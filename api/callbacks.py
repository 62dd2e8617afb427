"""Job callbacks: the job's JSON POSTed to a client's URL when the job ends, signed, retried.

Plain functions, no web framework: the jobs backends call them (api/jobs/ stores a
`CallbackState` with the job and runs `deliver` once the job has ended).

- `check_callback_url` runs before a job is accepted (422 `invalid_request` when refused) and
  again before every delivery attempt: only http(s), no credentials in the URL, and unless the
  host is in CALLBACK_ALLOW_HOSTS every address the host resolves to must be public.
- `deliver` connects to the address it has just checked (the request goes to that IP with the
  original Host header and TLS server name), so a DNS answer that changes between the check and
  the connection (DNS rebinding) cannot send the callback to an internal address.
- Receivers check a callback with `verify`: an HMAC-SHA256 of the raw body with CALLBACK_SECRET
  in `X-Signature: sha256=<hex>`, and `X-Signature-Timestamp: <unix seconds>`, which must equal
  the body's `callback.sent_at` (the signature covers the body only, so the timestamp is in the
  body too) and be recent. A retried delivery sends the same job again: de-duplicate by job id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal, TypeGuard

import httpx

from api import __version__
from api.errors import InvalidRequest
from settings import Settings

CallbackStatus = Literal["pending", "delivered", "failed"]
_STATUSES: tuple[CallbackStatus, ...] = ("pending", "delivered", "failed")

MAX_URL_LENGTH = 2048
MAX_BACKOFF = 60.0  # seconds: the doubling stops here, so five attempts span minutes, not hours
# Enough of a refusal to say why in last_error; a hostile receiver could stream forever.
MAX_RESPONSE_BYTES = 4096
ERROR_SNIPPET_CHARS = 200
USER_AGENT = f"deepfake-gateway/{__version__}"

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
ATTEMPT_HEADER = "X-Callback-Attempt"
JOB_ID_HEADER = "X-Job-Id"

# What a resolver answers: the addresses (as text) a host name stands for.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
Sleep = Callable[[float], Awaitable[None]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$")
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_CLOUD_METADATA = ipaddress.ip_address("169.254.169.254")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# --- the state kept with the job ---------------------------------------------------------------
@dataclass
class CallbackState:
    """Where a job's callback goes and how its delivery went; stored with the job."""

    url: str
    status: CallbackStatus = "pending"
    attempts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallbackState:
        status = data.get("status", "pending")
        if not _is_status(status):
            raise ValueError(f"unknown callback status {status!r}")
        last_error = data.get("last_error")
        return cls(
            url=str(data["url"]),
            status=status,
            attempts=int(data.get("attempts", 0)),
            last_error=None if last_error is None else str(last_error),
        )

    def public(self, *, sent_at: int | None = None) -> dict[str, Any]:
        """The job JSON's `callback` object (without the URL); in a callback body, pass the
        attempt's timestamp as `sent_at` so the signature covers it."""
        out: dict[str, Any] = {
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }
        if sent_at is not None:
            out["sent_at"] = sent_at
        return out


def _is_status(value: object) -> TypeGuard[CallbackStatus]:
    return value in _STATUSES


# --- signing -----------------------------------------------------------------------------------
def sign(body: bytes, secret: bytes) -> str:
    """The X-Signature value for `body`: "sha256=" and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(
    body: bytes, headers: Mapping[str, str], secret: bytes, *, max_age: float, now: float
) -> bool:
    """A receiver's check of one callback: True when the body is signed with `secret`, the
    X-Signature-Timestamp header equals the body's callback.sent_at and is at most `max_age`
    seconds from `now` (unix seconds). `body` is the raw request body, before any JSON parsing;
    header names are matched case-insensitively."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    # compare_digest: the comparison takes as long whichever byte differs, so an attacker
    # cannot find the signature byte by byte from response times.
    if not hmac.compare_digest(sign(body, secret).encode(), signature.encode()):
        return False
    try:
        stamp = int(lowered[TIMESTAMP_HEADER.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now - stamp) > max_age:
        return False
    try:
        sent_at = json.loads(body)["callback"]["sent_at"]
    except (ValueError, KeyError, TypeError):
        return False
    # The header is not signed; the body is. Equal values mean the signed time is the one checked.
    return type(sent_at) is int and sent_at == stamp


# --- checking the URL --------------------------------------------------------------------------
class _Refused(Exception):
    """A callback URL that must not be called; `retryable`: it may pass later (DNS failure)."""

    def __init__(self, reason: str, hint: str = "", *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.retryable = retryable


@dataclass(frozen=True)
class _Target:
    url: httpx.URL  # normalized: lower-case scheme and host, IDNA, no fragment
    host: str  # as resolved and sent in TLS SNI (IDNA, lower case)
    literal: bool  # the host is an IP address, not a name
    addresses: tuple[str, ...]  # what the host resolved to, each one checked (or allowed)


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """Every address `host` resolves to, by the event loop's getaddrinfo (in a thread, so the
    loop is not blocked). Literal IPs in any notation getaddrinfo accepts ("2130706433",
    "0x7f.1", "127.1") come back in their normal form, so they are checked as what they are."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: or ::1, which are IPv6's own
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _non_public(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is, in words ("a private address"); None for a
    public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            # Judged as the IPv4 address it stands for, so ::ffff:10.0.0.5 is 10.0.0.5.
            kind = _non_public(embedded)
            return None if kind is None else f"{kind} in IPv6 form ({embedded})"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip == _CLOUD_METADATA:
        return "a link-local address (cloud metadata)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _SHARED:
        return "a shared address (carrier-grade NAT)"
    if any(ip in net for net in _PRIVATE):
        return "a private address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    # Documentation, benchmarking and other special-purpose ranges: ipaddress keeps the list.
    if ip.is_private or not ip.is_global:
        return "a special-purpose address"
    return None


def _allowed(host: str, settings: Settings) -> bool:
    """Whether an operator listed `host` in CALLBACK_ALLOW_HOSTS: the same name (any case), or
    the same literal IP. "2130706433" is not "127.0.0.1" here: odd notations are not allowed."""
    ip = _strict_ip(host)
    for entry in settings.CALLBACK_ALLOW_HOSTS:
        entry = entry.strip().lower().removeprefix("[").removesuffix("]")
        if entry == host:
            return True
        allowed_ip = _strict_ip(entry)
        if ip is not None and allowed_ip is not None and ip == allowed_ip:
            return True
    return False


def _strict_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_PUBLIC_ONLY = (
    ": callbacks go to public addresses only (an operator can allow a host with "
    "CALLBACK_ALLOW_HOSTS)"
)


def _parse(url: str, settings: Settings) -> tuple[httpx.URL, str, int]:
    """The checks that need no DNS: the URL, its host and port; raises _Refused."""
    if not settings.CALLBACK_SECRET.get_secret_value():
        raise _Refused(
            "callbacks need CALLBACK_SECRET on this server",
            ": unsigned callbacks could be forged; poll GET /jobs/{id} instead",
        )
    if len(url) > MAX_URL_LENGTH:
        raise _Refused(f"the URL is {len(url)} characters long; at most {MAX_URL_LENGTH} are")
    try:
        # httpx's own parser: the host checked is the host httpx would connect to.
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _Refused(f"not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        got = f" (got '{parsed.scheme}:')" if parsed.scheme else ""
        raise _Refused(f"the URL must start with http:// or https://{got}")
    if parsed.userinfo:
        raise _Refused(
            "the URL must not contain credentials (user:password@)",
            ": the X-Signature header authenticates the callback instead",
        )
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise _Refused("the URL has no host (expected e.g. https://example.com/hook)")
    literal = _strict_ip(host)
    if literal is not None:
        host = str(literal)  # one spelling per IPv6 address ("0:0::1" is "::1")
        parsed = parsed.copy_with(host=host)
    elif not _HOST_NAME.match(host):
        raise _Refused(f"'{host}' is not a valid host name")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise _Refused(f"port {port} is out of range (1-65535)")
    return parsed.copy_with(fragment=None), host, port


async def _check(url: str, settings: Settings, resolve: Resolver) -> _Target:
    parsed, host, port = _parse(url, settings)
    try:
        # getaddrinfo has no timeout of its own; a stuck DNS server must not hold a job.
        async with asyncio.timeout(settings.CALLBACK_TIMEOUT):
            addresses = tuple(dict.fromkeys(await resolve(host, port)))
    except TimeoutError as exc:
        raise _Refused(
            f"'{host}' could not be resolved within {settings.CALLBACK_TIMEOUT:g} s",
            retryable=True,
        ) from exc
    except OSError as exc:  # socket.gaierror and friends
        raise _Refused(f"'{host}' does not resolve to an address", retryable=True) from exc
    if not addresses:
        raise _Refused(f"'{host}' does not resolve to an address", retryable=True)
    if not _allowed(host, settings):
        # Every address: a name with one public and one private address could land on either.
        for address in addresses:
            ip = _strict_ip(address.partition("%")[0])  # an IPv6 scope ("%eth0") is not the IP
            kind = "not an IP address" if ip is None else _non_public(ip)
            if kind is None:
                continue
            if ip is not None and ip == _strict_ip(host):
                raise _Refused(f"{address} is {kind}", _PUBLIC_ONLY)
            raise _Refused(f"'{host}' resolves to {address}, {kind}", _PUBLIC_ONLY)
    return _Target(parsed, host, _strict_ip(host) is not None, addresses)


async def check_callback_url(
    url: str, settings: Settings, *, resolve: Resolver = resolve_host
) -> str:
    """The URL to call (normalized), or InvalidRequest (422) saying what is wrong.

    `resolve` answers the addresses of a host name (tests give a fake one)."""
    try:
        target = await _check(url, settings, resolve)
    except _Refused as exc:
        raise InvalidRequest(f"callback_url refused: {exc.reason}{exc.hint}") from None
    return str(target.url)


# --- delivery ----------------------------------------------------------------------------------
def callback_client(settings: Settings) -> httpx.AsyncClient:
    """A client fit for `deliver`: no proxies or credentials from the environment, no redirects,
    and no cookie jar (a receiver's cookies would go to the next receiver on the same IP, as
    requests are addressed to the IP)."""
    return httpx.AsyncClient(
        trust_env=False,
        follow_redirects=False,
        timeout=settings.CALLBACK_TIMEOUT,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


@dataclass(frozen=True)
class _Outcome:
    delivered: bool = False
    retry: bool = False
    error: str | None = None
    retry_after: float | None = None  # seconds the receiver asked for (429/503 Retry-After)


def _snippet(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    text = " ".join(text.split())
    if len(text) > ERROR_SNIPPET_CHARS:
        text = text[:ERROR_SNIPPET_CHARS] + "..."
    return text


async def _read_some(response: httpx.Response) -> bytes:
    out = bytearray()
    async for chunk in response.aiter_raw():
        out += chunk
        if len(out) >= MAX_RESPONSE_BYTES:
            break  # the rest is never read: the connection is closed on exit
    return bytes(out[:MAX_RESPONSE_BYTES])


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None  # HTTP dates: the backoff decides


def _judge(status: int, reason: str, retry_after: float | None) -> _Outcome:
    if 200 <= status < 300:
        return _Outcome(delivered=True)
    error = f"HTTP {status} from the receiver" + (f": {reason}" if reason else "")
    if 300 <= status < 400:
        # A redirect could point anywhere, internal addresses included: never followed.
        return _Outcome(error=f"{error} (a redirect, not followed: give the final URL)")
    if status == 429 or status >= 500:
        return _Outcome(retry=True, error=error, retry_after=retry_after)
    # Any other 4xx: the receiver refused this callback; the same request would be refused again.
    return _Outcome(error=error)


async def _post(
    client: httpx.AsyncClient,
    target: _Target,
    payload: bytes,
    headers: dict[str, str],
    settings: Settings,
    attempt: int,
) -> _Outcome:
    # Addressed to a checked IP (another one on each retry), named by the Host header and SNI.
    address = target.addresses[(attempt - 1) % len(target.addresses)]
    pinned = target.url.copy_with(host=address.partition("%")[0])
    headers = {**headers, "Host": target.url.netloc.decode("ascii")}
    extensions: dict[str, str] = {}
    if target.url.scheme == "https" and not target.literal:
        extensions["sni_hostname"] = target.host  # and the certificate is checked for this name
    timeout = settings.CALLBACK_TIMEOUT
    status: int | None = None
    reason = ""
    retry_after: float | None = None
    try:
        # httpx's timeout is per read; this one bounds the whole attempt (a receiver trickling
        # bytes would otherwise hold it forever).
        async with asyncio.timeout(timeout):
            request = client.build_request(
                "POST",
                pinned,
                content=payload,
                headers=headers,
                extensions=extensions,
                timeout=timeout,
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                retry_after = _retry_after(response)
                if not 200 <= status < 300:
                    reason = _snippet(await _read_some(response))
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        if status is None:
            return _Outcome(retry=True, error=f"timed out after {timeout:g} s")
        # The status came, its body did not end in time: the status is the answer.
    except httpx.HTTPError as exc:
        if status is None:
            detail = str(exc) or type(exc).__name__
            return _Outcome(retry=True, error=f"could not reach the receiver ({detail})")
        # As above: the status came, then the connection broke while its body was read.
    if status is None:  # pragma: no cover (every path without a status returned above)
        raise AssertionError("no status")
    return _judge(status, reason, retry_after)


def _backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt number `attempt`: CALLBACK_RETRY_BACKOFF doubled per
    attempt, jittered (receivers that failed together are not retried together), capped."""
    delay = settings.CALLBACK_RETRY_BACKOFF * 2.0 ** (attempt - 1) * random.uniform(0.5, 1.5)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_BACKOFF)


async def deliver(
    state: CallbackState,
    body: Callable[[CallbackState, int], bytes],
    settings: Settings,
    client: httpx.AsyncClient,
    on_attempt: Callable[[CallbackState], Awaitable[None]] | None = None,
    *,
    job_id: str | None = None,
    resolve: Resolver = resolve_host,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.time,
) -> CallbackState:
    """POST body(state, timestamp) to state.url until delivered or CALLBACK_MAX_ATTEMPTS.

    `state` is updated in place and returned; `body` gets it with `attempts` already counting
    the attempt being made, and the attempt's unix timestamp, which it must put in the JSON as
    `callback.sent_at` (see `verify`). Before every attempt the URL is checked again (DNS
    included) and the request goes to an address just checked. 2xx: delivered. 5xx, 429,
    timeouts, connection errors and DNS failures: retried after a backoff. Redirects, other 4xx
    and refused URLs: failed at once. `on_attempt` is awaited after every attempt (to store the
    state). A state that is no longer pending is returned as it is, and a resumed state counts
    the attempts it has made. `client`: best `callback_client(settings)` (its own client: a
    shared one's default headers and cookies would go to the receiver).
    `job_id` adds an X-Job-Id header; `resolve`, `sleep`, `clock` are there for tests."""
    secret = settings.CALLBACK_SECRET.get_secret_value().encode()
    while state.status == "pending" and state.attempts < settings.CALLBACK_MAX_ATTEMPTS:
        state.attempts += 1
        try:
            target = await _check(state.url, settings, resolve)
        except _Refused as exc:
            outcome = _Outcome(retry=exc.retryable, error=f"refused: {exc.reason}")
        else:
            stamp = int(clock())
            payload = body(state, stamp)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Accept-Encoding": "identity",  # error snippets are read raw, a few KB at most
                "Connection": "close",  # no connection kept to an IP another host may share
                SIGNATURE_HEADER: sign(payload, secret),
                TIMESTAMP_HEADER: str(stamp),
                ATTEMPT_HEADER: str(state.attempts),
            }
            if job_id is not None:
                headers[JOB_ID_HEADER] = job_id
            outcome = await _post(client, target, payload, headers, settings, state.attempts)
        if outcome.delivered:
            state.status = "delivered"
            state.last_error = None
        else:
            state.last_error = outcome.error
            if not outcome.retry or state.attempts >= settings.CALLBACK_MAX_ATTEMPTS:
                state.status = "failed"
        if on_attempt is not None:
            await on_attempt(state)
        if state.status == "pending":
            await sleep(_backoff(settings, state.attempts, outcome.retry_after))
    if state.status == "pending":  # resumed with no attempts left
        state.status = "failed"
        state.last_error = state.last_error or "no attempts left"
        if on_attempt is not None:
            await on_attempt(state)
    return state
