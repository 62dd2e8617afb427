"""Backend tests run on asyncio with one HTTP client each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

# Held faults (Fault(hold=True)) time out whatever this is; every other request of these
# tests must answer within it, so it leaves room for a busy machine.
CLIENT_TIMEOUT = 3.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as c:
        yield c
