"""Delivering a callback: attempts, each after a fresh URL check, until delivered or spent."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from api import __version__
from api.callbacks.attempt import Outcome, post
from api.callbacks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from api.callbacks.state import CallbackState
from api.callbacks.urls import Refused, Resolver, check_target, resolve_host
from settings import Settings

MAX_BACKOFF = 60.0  # seconds: the doubling stops here, so five attempts span minutes, not hours

USER_AGENT = f"deepfake-gateway/{__version__}"

ATTEMPT_HEADER = "X-Callback-Attempt"
JOB_ID_HEADER = "X-Job-Id"

Sleep = Callable[[float], Awaitable[None]]


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
            target = await check_target(state.url, settings, resolve)
        except Refused as exc:
            outcome = Outcome(retry=exc.retryable, error=f"refused: {exc.reason}")
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
            outcome = await post(client, target, payload, headers, settings, state.attempts)
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
