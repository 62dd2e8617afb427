"""One delivery attempt: a POST to a checked address, its answer judged (delivered, retry, fail)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from api.callbacks.urls import Target
from settings import Settings

# Enough of a refusal to say why in last_error; a hostile receiver could stream forever.
MAX_RESPONSE_BYTES = 4096
ERROR_SNIPPET_CHARS = 200


@dataclass(frozen=True)
class Outcome:
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


def _judge(status: int, reason: str, retry_after: float | None) -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True)
    error = f"HTTP {status} from the receiver" + (f": {reason}" if reason else "")
    if 300 <= status < 400:
        # A redirect could point anywhere, internal addresses included: never followed.
        return Outcome(error=f"{error} (a redirect, not followed: give the final URL)")
    if status == 429 or status >= 500:
        return Outcome(retry=True, error=error, retry_after=retry_after)
    # Any other 4xx: the receiver refused this callback; the same request would be refused again.
    return Outcome(error=error)


async def post(
    client: httpx.AsyncClient,
    target: Target,
    payload: bytes,
    headers: dict[str, str],
    settings: Settings,
    attempt: int,
) -> Outcome:
    """POST `payload` once, to the address for attempt number `attempt`; never raises for
    what the network or the receiver does."""
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
            return Outcome(retry=True, error=f"timed out after {timeout:g} s")
        # The status came, its body did not end in time: the status is the answer.
    except httpx.HTTPError as exc:
        if status is None:
            detail = str(exc) or type(exc).__name__
            return Outcome(retry=True, error=f"could not reach the receiver ({detail})")
        # As above: the status came, then the connection broke while its body was read.
    if status is None:  # pragma: no cover (every path without a status returned above)
        raise AssertionError("no status")
    return _judge(status, reason, retry_after)
