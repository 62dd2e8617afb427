"""The TF Serving client against a real HTTP server speaking TF Serving's REST protocol."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from api.backends import TFServingBackend
from api.errors import (
    BackendBadResponse,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
)
from settings import WireFormat
from tests.conftest import MODEL
from tests.support.models import expected_scores, random_crops
from tests.support.ports import closed_port_url
from tests.support.tf_serving import Fault, TFServingTestServer

pytestmark = pytest.mark.anyio


def backend_for(
    client: httpx.AsyncClient, url: str, version: int = 1, batch_size: int = 64
) -> TFServingBackend:
    # uint8 pinned: these tests count requests and inject faults, so no metadata call first.
    return TFServingBackend(
        client, url, MODEL, version, batch_size=batch_size, wire=WireFormat.UINT8
    )


def random_batch(n: int, seed: int = 0) -> np.ndarray:
    return random_crops(n, seed)


async def test_predict_returns_the_model_scores(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    batch = random_batch(5)
    scores = (await backend_for(client, serving.url).predict(batch)).scores
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected_scores(batch), atol=1e-5)


async def test_predict_pins_the_configured_version(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    batch = random_batch(3, seed=1)
    scores = (await backend_for(client, serving.url, version=2).predict(batch)).scores
    np.testing.assert_allclose(scores, expected_scores(batch, "green"), atol=1e-5)
    assert serving.state.requests[-1] == ("POST", f"/v1/models/{MODEL}/versions/2:predict")


async def test_predict_splits_large_batches_in_order(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    batch = random_batch(10, seed=2)
    before = len(serving.state.requests)
    scores = (await backend_for(client, serving.url, batch_size=4).predict(batch)).scores
    assert len(serving.state.requests) - before == 3
    np.testing.assert_allclose(scores, expected_scores(batch), atol=1e-5)


async def test_status_ready_when_the_version_is_available(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    status = await backend_for(client, serving.url).status()
    assert status.ready
    assert "AVAILABLE" in status.detail


async def test_status_reads_the_body_not_just_the_http_code(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.set_state(MODEL, 1, "LOADING")
    backend = backend_for(client, serving.url)
    status = await backend.status()
    assert not status.ready
    assert "LOADING" in status.detail
    with pytest.raises(BackendUnavailable, match="not loaded"):
        await backend.predict(random_batch(1))
    serving.state.set_state(MODEL, 1, "AVAILABLE")
    assert (await backend.status()).ready


async def test_status_for_a_version_the_server_does_not_have(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    status = await backend_for(client, serving.url, version=7).status()
    assert not status.ready
    assert "v7 is not loaded" in status.detail


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    backend = backend_for(client, closed_port_url())
    with pytest.raises(BackendUnavailable, match="Cannot reach TF Serving") as err:
        await backend.predict(random_batch(1))
    assert err.value.status_code == 503
    status = await backend.status()
    assert not status.ready
    assert "Cannot reach" in status.detail


@pytest.mark.parametrize(
    ("fault", "error", "status", "message"),
    [
        (Fault(500, b'{"error": "boom"}'), BackendError, 502, "failed \\(500\\): boom"),
        (Fault(400, b'{"error": "bad shape"}'), BackendError, 502, "rejected.*bad shape"),
        (Fault(404, b'{"error": "Servable not found"}'), BackendUnavailable, 503, "not loaded"),
        (Fault(429, b'{"error": "slow down"}'), BackendUnavailable, 503, "overloaded"),
        (Fault(503, b'{"error": "queue full"}'), BackendUnavailable, 503, "queue full"),
        (Fault(504, b'{"error": "deadline"}'), BackendTimeout, 504, "gave up"),
        (Fault(502, b"<html>bad gateway</html>"), BackendError, 502, "<html>bad gateway"),
        (Fault(200, b"{not json"), BackendBadResponse, 502, "malformed JSON"),
        (Fault(200, b'{"outputs": [[0.5]]}'), BackendBadResponse, 502, "without 'predictions'"),
        (Fault(200, b'{"predictions": [[NaN]]}'), BackendBadResponse, 502, "outside \\[0, 1\\]"),
        (Fault(200, b'{"predictions": [[Infinity]]}'), BackendBadResponse, 502, "outside"),
        (Fault(200, b'{"predictions": [[1.7]]}'), BackendBadResponse, 502, "outside"),
        (Fault(200, b'{"predictions": [[0.1], [0.2]]}'), BackendBadResponse, 502, "shape \\[2\\]"),
        (Fault(200, b'{"predictions": [[0.1, 0.2]]}'), BackendBadResponse, 502, "shape"),
        (Fault(200, b'{"predictions": ["x"]}'), BackendBadResponse, 502, "not numbers"),
        (Fault(drop=True), BackendUnavailable, 503, "Cannot reach"),
        (
            Fault(200, b'{"predictions": [[0.5]]}', hold=True),
            BackendTimeout,
            504,
            "in time",
        ),
    ],
)
async def test_faults_become_gateway_errors(
    client: httpx.AsyncClient,
    serving: TFServingTestServer,
    fault: Fault,
    error: type[BackendError],
    status: int,
    message: str,
) -> None:
    serving.state.inject(fault)
    backend = backend_for(client, serving.url)
    with pytest.raises(error, match=message) as caught:
        await backend.predict(random_batch(1))
    assert caught.value.status_code == status
    # The next request succeeds: nothing is stuck.
    assert (await backend.predict(random_batch(1))).scores.shape == (1,)


async def test_overload_answers_carry_retry_after(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.inject(Fault(503))
    with pytest.raises(BackendUnavailable) as caught:
        await backend_for(client, serving.url).predict(random_batch(1))
    assert caught.value.headers["Retry-After"].isdigit()
