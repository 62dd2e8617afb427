"""The TF Serving stand-in itself must answer as the real server does, or the tests above lie."""

from __future__ import annotations

import base64

import cv2
import httpx
import numpy as np
import pytest

from tests.conftest import MODEL
from tests.support.models import expected_scores, random_crops
from tests.support.tf_serving import TFServingTestServer


def test_status_shape(serving: TFServingTestServer) -> None:
    body = httpx.get(f"{serving.url}/v1/models/{MODEL}").json()
    assert body == {
        "model_version_status": [
            {
                "version": v,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in ("2", "1")
        ]
    }


def test_status_is_200_while_loading(serving: TFServingTestServer) -> None:
    serving.state.set_state(MODEL, 1, "LOADING")
    response = httpx.get(f"{serving.url}/v1/models/{MODEL}/versions/1")
    assert response.status_code == 200
    assert response.json()["model_version_status"][0]["state"] == "LOADING"


def test_metadata_nests_signature_def_twice_with_string_sizes(serving: TFServingTestServer) -> None:
    body = httpx.get(f"{serving.url}/v1/models/{MODEL}/versions/1/metadata").json()
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    image = signature["inputs"]["image"]
    assert image["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in image["tensor_shape"]["dim"]] == ["-1", "64", "64", "3"]
    assert body["model_spec"] == {"name": MODEL, "signature_name": "", "version": "1"}


def test_row_and_columnar_predict_agree(serving: TFServingTestServer) -> None:
    x = np.random.default_rng(3).random((2, 64, 64, 3), dtype=np.float32)
    url = f"{serving.url}/v1/models/{MODEL}/versions/1:predict"
    rows = httpx.post(url, json={"instances": x.tolist()}).json()["predictions"]
    named = httpx.post(url, json={"instances": [{"image": r} for r in x.tolist()]}).json()
    columns = httpx.post(url, json={"inputs": {"image": x.tolist()}}).json()["outputs"]
    np.testing.assert_allclose(np.array(rows)[:, 0], expected_scores(x), atol=1e-5)
    assert named["predictions"] == rows == columns


def test_latest_version_is_used_without_a_version(serving: TFServingTestServer) -> None:
    x = np.full((1, 64, 64, 3), 0.25, np.float32)
    x[..., 1] = 0.75
    body = httpx.post(f"{serving.url}/v1/models/{MODEL}:predict", json={"instances": x.tolist()})
    assert body.json()["predictions"] == [[pytest.approx(0.75)]]  # v2 = green


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (f"/v1/models/{MODEL}:predict", {}, 400, "Missing 'inputs' or 'instances'"),
        (f"/v1/models/{MODEL}:predict", {"instances": [1], "inputs": [1]}, 400, "Missing"),
        (f"/v1/models/{MODEL}:predict", {"instances": [[1.0, 2.0]]}, 400, ""),
        (
            f"/v1/models/{MODEL}:predict",
            {"signature_name": "x", "instances": [1]},
            400,
            "not found",
        ),
        (
            f"/v1/models/{MODEL}/versions/9:predict",
            {"instances": [1]},
            404,
            "Specific(deepfake, 9)",
        ),
        ("/v1/models/nope:predict", {"instances": [1]}, 404, "Latest(nope)"),
    ],
)
def test_errors_are_json_bodies(
    serving: TFServingTestServer, path: str, body: object, status: int, error: str
) -> None:
    response = httpx.post(serving.url + path, json=body)
    assert response.status_code == status
    assert error in response.json()["error"]


def _png_b64(crop: np.ndarray) -> dict[str, str]:
    ok, data = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    assert ok
    return {"b64": base64.b64encode(data.tobytes()).decode()}


def test_binary_strings_travel_as_b64_objects_in_rows_and_columns(
    serving: TFServingTestServer,
) -> None:
    """json_tensor.h: '{"instances": [{"b64": "aGVsbG8="}, ...]}' for a single string input."""
    crops = random_crops(3, 5)
    url = f"{serving.url}/v1/models/{MODEL}/versions/1:predict"
    items = [_png_b64(c) for c in crops]
    rows = httpx.post(url, json={"signature_name": "serving_encoded", "instances": items})
    columns = httpx.post(url, json={"signature_name": "serving_encoded", "inputs": items})
    assert rows.status_code == columns.status_code == 200, rows.text
    np.testing.assert_allclose(
        np.array(rows.json()["predictions"])[:, 0], expected_scores(crops), atol=1e-5
    )
    assert rows.json()["predictions"] == columns.json()["outputs"]


@pytest.mark.parametrize(
    ("signature", "instances", "message"),
    [
        ("serving_encoded", [{"b64": "not base64!"}], "Unable to base64 decode"),
        ("serving_uint8", [{"b64": "aGVsbG8="}], "only valid for string inputs"),
        ("serving_encoded", [7], "not formatted as string"),
    ],
)
def test_b64_mistakes_are_400(
    serving: TFServingTestServer, signature: str, instances: list[object], message: str
) -> None:
    response = httpx.post(
        f"{serving.url}/v1/models/{MODEL}/versions/1:predict",
        json={"signature_name": signature, "instances": instances},
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
