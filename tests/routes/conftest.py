"""Apps under test: the real ASGI app with its lifespan, on either backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from settings import Settings
from tests.support.tf_serving import TFServingTestServer

AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[AppFactory]:
    """Start an app (lifespan included) with settings overrides; stopped after the test."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(params=["embedded", "tfserving"])
def client(
    request: pytest.FixtureRequest, make_client: AppFactory, serving: TFServingTestServer
) -> TestClient:
    """The gateway on each backend in turn, serving the same model (mean red channel)."""
    if request.param == "embedded":
        return make_client(BACKEND="embedded")
    return make_client(TF_SERVING_URL=serving.url)
