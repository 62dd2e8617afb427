"""Backend tests run on asyncio with one HTTP client each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

# Fault tests delay answers beyond this to provoke timeouts.
CLIENT_TIMEOUT = 2.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as c:
        yield c
