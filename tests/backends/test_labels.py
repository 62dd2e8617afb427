"""Serving a version label: resolved through TF Serving's status, pinned, and reported."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from api.backends import TFServingBackend
from api.errors import BackendUnavailable
from tests.conftest import MODEL
from tests.support.models import expected_scores, random_crops
from tests.support.tf_serving import TFServingTestServer

pytestmark = pytest.mark.anyio
BATCH = random_crops(3, 9)


def labelled(client: httpx.AsyncClient, url: str, ttl: float = 60.0) -> TFServingBackend:
    return TFServingBackend(client, url, MODEL, 1, version_label="stable", label_ttl=ttl)


async def test_the_label_decides_the_version_and_the_answer_says_which(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.set_label(MODEL, "stable", 2)
    backend = labelled(client, serving.url)
    scored = await backend.predict(BATCH)
    assert scored.version == "2"
    np.testing.assert_allclose(scored.scores, expected_scores(BATCH, "green"), atol=1e-5)
    assert serving.state.requests[-1] == ("POST", f"/v1/models/{MODEL}/versions/2:predict")
    status = await backend.status()
    assert (status.ready, status.version) == (True, "2")


async def test_moving_the_label_rolls_back_after_the_cache_expires(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.set_label(MODEL, "stable", 2)
    backend = labelled(client, serving.url, ttl=0.0)
    assert (await backend.predict(BATCH)).version == "2"
    serving.state.set_label(MODEL, "stable", 1)  # roll back
    scored = await backend.predict(BATCH)
    assert scored.version == "1"
    np.testing.assert_allclose(scored.scores, expected_scores(BATCH, "red"), atol=1e-5)


async def test_the_resolution_is_cached(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.set_label(MODEL, "stable", 2)
    backend = labelled(client, serving.url, ttl=60.0)
    await backend.predict(BATCH)
    before = len(serving.state.requests)
    await backend.predict(BATCH)
    assert serving.state.requests[before:] == [("POST", f"/v1/models/{MODEL}/versions/2:predict")]


async def test_unknown_label(client: httpx.AsyncClient, serving: TFServingTestServer) -> None:
    backend = labelled(client, serving.url)
    with pytest.raises(BackendUnavailable, match="label 'stable' is not loaded"):
        await backend.predict(BATCH)
    status = await backend.status()
    assert not status.ready
    assert "Unrecognized servable version label" in status.detail


async def test_label_pointing_at_a_loading_version(
    client: httpx.AsyncClient, serving: TFServingTestServer
) -> None:
    serving.state.set_label(MODEL, "stable", 2)
    serving.state.set_state(MODEL, 2, "LOADING")
    backend = labelled(client, serving.url)
    with pytest.raises(BackendUnavailable, match="LOADING"):
        await backend.predict(BATCH)
