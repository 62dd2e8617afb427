"""Plain helpers for the callback tests: settings, a job body, resolvers, recorders, clients.

No network beyond loopback: literal IPs and "localhost" go through the real getaddrinfo (guarded
so that a name needing DNS fails the test), other names through fake resolvers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import httpx

from api.callbacks import CallbackState, resolve_host
from settings import Settings

SECRET = "test-callback-secret"
JOB_ID = "job-0001"
NOW = 1_700_000_000
PUBLIC_IP = "93.184.216.34"  # only ever answered by fake resolvers and mock transports
PUBLIC_ONLY = "callbacks go to public addresses only"
LOOPBACK = "127.0.0.1"


def make(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"CALLBACK_SECRET": SECRET, "CALLBACK_RETRY_BACKOFF": 1.0}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def allowing_loopback(**overrides: Any) -> Settings:
    """Settings that let callbacks go to the local receiver (127.0.0.1)."""
    return make(CALLBACK_ALLOW_HOSTS=[LOOPBACK], **overrides)


def job_body(state: CallbackState, sent_at: int) -> bytes:
    """What the jobs backend sends: the job's JSON with the callback state and sent_at."""
    job = {"id": JOB_ID, "status": "done", "callback": state.public(sent_at=sent_at)}
    return json.dumps(job).encode()


async def local_only(host: str, port: int) -> Sequence[str]:
    """The real resolver, for hosts that need no DNS server: literal IPs and localhost."""
    if host != "localhost" and not re.fullmatch(r"[0-9a-fx.:]+", host):
        raise AssertionError(f"the test would have asked DNS for {host!r}")
    return await resolve_host(host, port)


class FakeDNS:
    """A resolver giving these answers in turn (the last one from then on), counting calls."""

    def __init__(self, *answers: Sequence[str] | Exception) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.calls.append(host)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


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

    def summary(self) -> list[tuple[str, int, str | None]]:
        return [(s.status, s.attempts, s.last_error) for s in self.seen]


def mock_client(status: int = 200, seen: list[httpx.Request] | None = None) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, stream=httpx.ByteStream(b"mock"))  # as a server sends it

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))
