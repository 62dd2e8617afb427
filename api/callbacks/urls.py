"""Checking a callback URL: its form (no DNS), then every address its host resolves to."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from api.callbacks.addresses import non_public, strict_ip
from api.errors import InvalidRequest
from settings import Settings

MAX_URL_LENGTH = 2048

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$")


class Refused(Exception):
    """A callback URL that must not be called; `retryable`: it may pass later (DNS failure)."""

    def __init__(self, reason: str, hint: str = "", *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.retryable = retryable


@dataclass(frozen=True)
class Target:
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


def _allowed(host: str, settings: Settings) -> bool:
    """Whether an operator listed `host` in CALLBACK_ALLOW_HOSTS: the same name (any case), or
    the same literal IP. "2130706433" is not "127.0.0.1" here: odd notations are not allowed."""
    ip = strict_ip(host)
    for entry in settings.CALLBACK_ALLOW_HOSTS:
        entry = entry.strip().lower().removeprefix("[").removesuffix("]")
        if entry == host:
            return True
        allowed_ip = strict_ip(entry)
        if ip is not None and allowed_ip is not None and ip == allowed_ip:
            return True
    return False


_PUBLIC_ONLY = (
    ": callbacks go to public addresses only (an operator can allow a host with "
    "CALLBACK_ALLOW_HOSTS)"
)


def _parse(url: str, settings: Settings) -> tuple[httpx.URL, str, int]:
    """The checks that need no DNS: the URL, its host and port; raises Refused."""
    if not settings.CALLBACK_SECRET.get_secret_value():
        raise Refused(
            "callbacks need CALLBACK_SECRET on this server",
            ": unsigned callbacks could be forged; poll GET /jobs/{id} instead",
        )
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"the URL is {len(url)} characters long; at most {MAX_URL_LENGTH} are")
    try:
        # httpx's own parser: the host checked is the host httpx would connect to.
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused(f"not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        got = f" (got '{parsed.scheme}:')" if parsed.scheme else ""
        raise Refused(f"the URL must start with http:// or https://{got}")
    if parsed.userinfo:
        raise Refused(
            "the URL must not contain credentials (user:password@)",
            ": the X-Signature header authenticates the callback instead",
        )
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise Refused("the URL has no host (expected e.g. https://example.com/hook)")
    literal = strict_ip(host)
    if literal is not None:
        host = str(literal)  # one spelling per IPv6 address ("0:0::1" is "::1")
        parsed = parsed.copy_with(host=host)
    elif not _HOST_NAME.match(host):
        raise Refused(f"'{host}' is not a valid host name")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise Refused(f"port {port} is out of range (1-65535)")
    return parsed.copy_with(fragment=None), host, port


async def check_target(url: str, settings: Settings, resolve: Resolver) -> Target:
    """Where a callback to `url` may go now, every address checked; raises Refused. Run again
    before each delivery attempt, so a DNS answer that has changed since is checked too."""
    parsed, host, port = _parse(url, settings)
    try:
        # getaddrinfo has no timeout of its own; a stuck DNS server must not hold a job.
        async with asyncio.timeout(settings.CALLBACK_TIMEOUT):
            addresses = tuple(dict.fromkeys(await resolve(host, port)))
    except TimeoutError as exc:
        raise Refused(
            f"'{host}' could not be resolved within {settings.CALLBACK_TIMEOUT:g} s",
            retryable=True,
        ) from exc
    except OSError as exc:  # socket.gaierror and friends
        raise Refused(f"'{host}' does not resolve to an address", retryable=True) from exc
    if not addresses:
        raise Refused(f"'{host}' does not resolve to an address", retryable=True)
    if not _allowed(host, settings):
        # Every address: a name with one public and one private address could land on either.
        for address in addresses:
            ip = strict_ip(address.partition("%")[0])  # an IPv6 scope ("%eth0") is not the IP
            kind = "not an IP address" if ip is None else non_public(ip)
            if kind is None:
                continue
            if ip is not None and ip == strict_ip(host):
                raise Refused(f"{address} is {kind}", _PUBLIC_ONLY)
            raise Refused(f"'{host}' resolves to {address}, {kind}", _PUBLIC_ONLY)
    return Target(parsed, host, strict_ip(host) is not None, addresses)


async def check_callback_url(
    url: str, settings: Settings, *, resolve: Resolver = resolve_host
) -> str:
    """The URL to call (normalized), or InvalidRequest (422) saying what is wrong.

    `resolve` answers the addresses of a host name (tests give a fake one)."""
    try:
        target = await check_target(url, settings, resolve)
    except Refused as exc:
        raise InvalidRequest(f"callback_url refused: {exc.reason}{exc.hint}") from None
    return str(target.url)
