"""Checking a callback URL: its form, its host's every address, the allow list."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import anyio
import pytest

from api.callbacks import MAX_URL_LENGTH, Resolver, check_callback_url
from api.errors import InvalidRequest
from settings import Settings
from tests.support.callbacks import PUBLIC_IP, PUBLIC_ONLY, FakeDNS, local_only, make

pytestmark = pytest.mark.anyio
LOOPBACK_NAME = ("resolves to 127.0.0.1, a loopback address", PUBLIC_ONLY)
ALLOWED = ["127.0.0.1", "LocalHost", "::1"]


async def refusal(url: str, settings: Settings, resolve: Resolver = local_only) -> str:
    """The message check_callback_url refuses `url` with (a 422 invalid_request)."""
    with pytest.raises(InvalidRequest) as refused:
        await check_callback_url(url, settings, resolve=resolve)
    assert refused.value.status_code == 422
    assert refused.value.code == "invalid_request"
    assert refused.value.message.startswith("callback_url refused: ")
    return refused.value.message


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
    message = await refusal(url, make())
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (["127.0.0.1"], "'hooks.example' resolves to 127.0.0.1, a loopback address"),
        ([PUBLIC_IP, "10.0.0.5"], "'hooks.example' resolves to 10.0.0.5, a private address"),
        (["::ffff:169.254.169.254"], "cloud metadata"),
        (socket.gaierror(socket.EAI_NONAME, "unknown"), "'hooks.example' does not resolve"),
        ([], "'hooks.example' does not resolve to an address"),
    ],
)
async def test_names_are_refused_by_every_address_they_resolve_to(
    answer: Sequence[str] | Exception, fragment: str
) -> None:
    assert fragment in await refusal("https://hooks.example/cb", make(), FakeDNS(answer))


async def test_a_resolver_that_never_answers_is_given_up() -> None:
    async def stuck(host: str, port: int) -> Sequence[str]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    message = await refusal("https://hooks.example/", make(CALLBACK_TIMEOUT=0.1), stuck)
    assert "'hooks.example' could not be resolved within 0.1 s" in message


async def test_without_a_secret_callbacks_are_refused_before_any_lookup() -> None:
    resolve = FakeDNS([PUBLIC_IP])
    message = await refusal("https://hooks.example/cb", make(CALLBACK_SECRET=""), resolve)
    assert "callbacks need CALLBACK_SECRET on this server" in message
    assert resolve.calls == []


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("http://127.0.0.1:8000/hook", "http://127.0.0.1:8000/hook"),
        ("http://localhost/hook", "http://localhost/hook"),
        ("http://[0:0::1]:9/hook", "http://[::1]:9/hook"),
    ],
)
async def test_the_allow_list_lets_listed_hosts_through(url: str, normalized: str) -> None:
    allowed = make(CALLBACK_ALLOW_HOSTS=ALLOWED)
    assert await check_callback_url(url, allowed, resolve=local_only) == normalized


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://2130706433/hook", "a loopback address"),  # not "127.0.0.1" as written
        ("ftp://127.0.0.1/hook", "must start with http://"),
        ("http://user:pass@127.0.0.1/hook", "must not contain credentials"),
        ("http://10.0.0.5/hook", "a private address"),
    ],
)
async def test_the_allow_list_skips_the_address_check_only(url: str, fragment: str) -> None:
    assert fragment in await refusal(url, make(CALLBACK_ALLOW_HOSTS=ALLOWED))


async def test_the_url_is_normalized() -> None:
    url = await check_callback_url(
        "HTTPS://Hooks.EXAMPLE/cb?x=1#fragment", make(), resolve=FakeDNS([PUBLIC_IP])
    )
    assert url == "https://hooks.example/cb?x=1"
