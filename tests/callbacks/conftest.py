"""Fixtures for the callback tests: a local receiver, recorders, and one way to deliver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import httpx
import pytest

from api.callbacks import CallbackState, callback_client, deliver
from settings import Settings
from tests.support.callbacks import Attempts, Sleeps, job_body, local_only
from tests.support.receiver import Receiver, receiver


class Send(Protocol):
    async def __call__(
        self,
        state: CallbackState | str,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> CallbackState: ...


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as hook:
        yield hook


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def attempts() -> Attempts:
    return Attempts()


@pytest.fixture
def send(sleeps: Sleeps, attempts: Attempts) -> Send:
    """deliver() of the test job body, its waits and attempts recorded: through `client`, or a
    callback_client of its own; `options` go to deliver (resolve: local_only unless given)."""

    async def send(
        state: CallbackState | str,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> CallbackState:
        state = CallbackState(state) if isinstance(state, str) else state
        options = {"resolve": local_only, "sleep": sleeps, **options}
        if client is not None:
            return await deliver(state, job_body, settings, client, attempts, **options)
        async with callback_client(settings) as own:
            return await deliver(state, job_body, settings, own, attempts, **options)

    return send
