"""Wire formats to TF Serving: same scores whatever the encoding, compact when the model allows."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import orjson
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
        (WireFormat.PNG, "serving_encoded"),
        (WireFormat.AUTO, "serving_encoded"),  # the test models export every signature
    ],
)
async def test_every_wire_format_gives_the_same_scores(
    client: httpx.AsyncClient, serving: TFServingTestServer, wire: WireFormat, signature: str
) -> None:
    backend = TFServingBackend(client, serving.url, MODEL, 1, wire=wire, batch_size=8)
    scored = await backend.predict(CROPS)
    np.testing.assert_allclose(scored.scores, expected_scores(CROPS), atol=1e-5)
    assert serving.state.signatures[-3:] == [signature] * 3  # 20 crops in chunks of 8


@pytest.fixture(params=[False, True], ids=["default-only", "default-and-uint8"])
def older_model(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TFServingTestServer]:
    export_default_only(tmp_path, MODEL, 1, uint8=request.param)
    with TFServingTestServer() as server:
        server.state.load(MODEL, tmp_path / MODEL)
        yield server


async def test_auto_falls_back_to_what_older_models_take(
    client: httpx.AsyncClient, older_model: TFServingTestServer
) -> None:
    """No serving_encoded: uint8 when serving_uint8 is there, else floats."""
    backend = TFServingBackend(client, older_model.url, MODEL, 1)
    scored = await backend.predict(CROPS)
    np.testing.assert_allclose(scored.scores, expected_scores(CROPS), atol=1e-5)
    metadata = await client.get(f"{older_model.url}/v1/models/{MODEL}/metadata")
    signatures = metadata.json()["metadata"]["signature_def"]["signature_def"]
    expected = "serving_uint8" if "serving_uint8" in signatures else "serving_default"
    assert older_model.state.signatures == [expected]
    await backend.predict(CROPS)  # the choice is cached per version: no second metadata call
    metadata_calls = [p for m, p in older_model.state.requests if p.endswith("/metadata")]
    assert len(metadata_calls) == 2  # the backend's one, and this test's


def test_compact_formats_are_smaller() -> None:
    crops = random_crops(64, 1)
    formats = (WireFormat.JSON, WireFormat.FLOAT, WireFormat.UINT8, WireFormat.PNG)
    sizes = {w: len(encoder_for(w).body(crops)) for w in formats}
    print(f"\nbody bytes for 64 crops of noise: { {str(k): v for k, v in sizes.items()} }")
    assert sizes[WireFormat.UINT8] * 2 < sizes[WireFormat.FLOAT] <= sizes[WireFormat.JSON]
    # Noise is PNG's worst case (nothing to compress); faces compress to ~9 kB a crop.
    assert sizes[WireFormat.PNG] * 2 < sizes[WireFormat.UINT8]


def test_png_crops_carry_the_exact_pixels() -> None:
    body = orjson.loads(encoder_for(WireFormat.PNG).body(CROPS))
    assert body["signature_name"] == "serving_encoded"
    assert len(body["instances"]) == len(CROPS)
    for crop, item in zip(CROPS, body["instances"], strict=True):
        png = np.frombuffer(base64.b64decode(item["b64"]), np.uint8)
        decoded = cv2.imdecode(png, cv2.IMREAD_COLOR)
        assert decoded is not None
        np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), crop)
