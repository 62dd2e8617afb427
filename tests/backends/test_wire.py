"""Wire formats to TF Serving: same scores whatever the encoding, compact when the model allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.backends import TFServingBackend
from api.backends.wire import encoder_for
from settings import WireFormat
from tests.conftest import MODEL
from tests.support.models import expected_scores, export_default_only, random_crops
from tests.support.tf_serving import TFServingTestServer

pytestmark = pytest.mark.anyio
CROPS = random_crops(20, 11)


@pytest.mark.parametrize(
    ("wire", "signature"),
    [
        (WireFormat.JSON, "serving_default"),
        (WireFormat.FLOAT, "serving_default"),
        (WireFormat.UINT8, "serving_uint8"),
        (WireFormat.AUTO, "serving_uint8"),  # the test models export serving_uint8
    ],
)
async def test_every_wire_format_gives_the_same_scores(
    client: httpx.AsyncClient, serving: TFServingTestServer, wire: WireFormat, signature: str
) -> None:
    backend = TFServingBackend(client, serving.url, MODEL, 1, wire=wire, batch_size=8)
    scored = await backend.predict(CROPS)
    np.testing.assert_allclose(scored.scores, expected_scores(CROPS), atol=1e-5)
    assert serving.state.signatures[-3:] == [signature] * 3  # 20 crops in chunks of 8


@pytest.fixture
def default_only(tmp_path: Path) -> Iterator[TFServingTestServer]:
    export_default_only(tmp_path, MODEL, 1)
    with TFServingTestServer() as server:
        server.state.load(MODEL, tmp_path / MODEL)
        yield server


async def test_auto_falls_back_to_floats_for_models_without_serving_uint8(
    client: httpx.AsyncClient, default_only: TFServingTestServer
) -> None:
    backend = TFServingBackend(client, default_only.url, MODEL, 1)
    scored = await backend.predict(CROPS)
    np.testing.assert_allclose(scored.scores, expected_scores(CROPS), atol=1e-5)
    assert default_only.state.signatures == ["serving_default"]
    await backend.predict(CROPS)  # the choice is cached per version: no second metadata call
    metadata_calls = [p for m, p in default_only.state.requests if p.endswith("/metadata")]
    assert len(metadata_calls) == 1


def test_compact_formats_are_smaller() -> None:
    crops = random_crops(64, 1)
    sizes = {w: len(encoder_for(w).body(crops)) for w in (WireFormat.JSON, WireFormat.FLOAT)}
    sizes[WireFormat.UINT8] = len(encoder_for(WireFormat.UINT8).body(crops))
    print(f"\nbody bytes for 64 crops: { {str(k): v for k, v in sizes.items()} }")
    assert sizes[WireFormat.UINT8] * 2 < sizes[WireFormat.FLOAT] <= sizes[WireFormat.JSON]
