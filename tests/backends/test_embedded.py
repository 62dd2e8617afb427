"""The SavedModel run in-process: same scores as TF Serving, clear failures, clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.backends import EmbeddedBackend, TFServingBackend
from tests.conftest import MODEL
from tests.support.models import expected_scores, random_crops
from tests.support.tf_serving import TFServingTestServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def embedded(model_base: Path) -> AsyncIterator[EmbeddedBackend]:
    backend = await asyncio.to_thread(EmbeddedBackend.load, model_base / MODEL / "1", batch_size=4)
    yield backend
    await backend.close()


async def test_scores_are_the_model_function(embedded: EmbeddedBackend) -> None:
    batch = random_crops(10, 4)
    scores = (await embedded.predict(batch)).scores  # 3 chunks of <= 4
    assert scores.shape == (10,)
    np.testing.assert_allclose(scores, expected_scores(batch), atol=1e-5)


async def test_same_scores_as_tf_serving(
    embedded: EmbeddedBackend, serving: TFServingTestServer
) -> None:
    batch = random_crops(7, 5)
    async with httpx.AsyncClient() as client:
        remote = (await TFServingBackend(client, serving.url, MODEL, 1).predict(batch)).scores
    np.testing.assert_allclose((await embedded.predict(batch)).scores, remote, atol=1e-6)


async def test_status_and_close(embedded: EmbeddedBackend) -> None:
    assert (await embedded.status()).ready
    await embedded.close()
    status = await embedded.status()
    assert not status.ready
    assert "shut down" in status.detail


def test_missing_model_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MODEL_BASE_PATH"):
        EmbeddedBackend.load(tmp_path / "deepfake" / "1", batch_size=8)
