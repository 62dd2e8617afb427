"""POST /predict with a model of another input size (96 px), end to end on both backends: the
gateway crops at the size the served version's signature fixes, and the answer says so."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.pipeline.extract import extract_faces
from api.pipeline.faces import HaarFaceDetector
from tests.conftest import SIZED, AppFactory
from tests.support.models import expected_scores
from tests.support.tf_serving import TFServingTestServer

FPS = 2


@pytest.fixture(params=["embedded", "tfserving", "tfserving-label"])
def sized_client(
    request: pytest.FixtureRequest,
    make_client: AppFactory,
    sized_model_base: Path,
    sized_serving: TFServingTestServer,
) -> TestClient:
    """The gateway serving sized_model_base's 96 px v2: in-process, pinned on TF Serving, and
    through a TF Serving version label."""
    settings: dict[str, Any] = {"MODEL_BASE_PATH": sized_model_base, "MODEL_VERSION": 2}
    if request.param == "embedded":
        return make_client(BACKEND="embedded", **settings)
    if request.param == "tfserving-label":
        sized_serving.state.set_label("deepfake", "stable", 2)
        settings["MODEL_VERSION"], settings["MODEL_VERSION_LABEL"] = 1, "stable"
    return make_client(TF_SERVING_URL=sized_serving.url, **settings)


def upload(client: TestClient, path: Path, **params: object) -> dict[str, Any]:
    with path.open("rb") as f:
        response = client.post("/predict", params=params, files={"file": (path.name, f)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def crops_at(path: Path, size: int) -> list[np.ndarray]:
    """The largest face of each sampled frame, cropped as the pipeline does at `size` px."""
    samples = extract_faces(
        path,
        target_fps=FPS,
        max_frames=256,
        detector=HaarFaceDetector(),
        margin=0.2,
        crop_size=size,
    )
    return samples.crops


def decoded(crop: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(crop), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def test_a_96_px_model_scores_96_px_crops(
    sized_client: TestClient, videos: dict[str, Path]
) -> None:
    body = upload(sized_client, videos["faces"], fps=FPS, include="crops")
    assert body["version"] == "2"
    assert body["reproducibility"]["settings"]["crop_size"] == SIZED
    expected = expected_scores(np.stack(crops_at(videos["faces"], SIZED)))
    got = np.array([sample["score"] for sample in body["frame_samples"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert len(set(np.round(got, 4))) > 4  # the frames really differ
    faces = [face for frame in body["frames"] for face in frame["faces"]]
    assert faces
    assert {decoded(face["crop"]).shape for face in faces} == {(SIZED, SIZED, 3)}


def test_the_same_base_still_answers_at_64_px_for_v1(
    make_client: AppFactory, sized_model_base: Path, videos: dict[str, Path]
) -> None:
    client = make_client(BACKEND="embedded", MODEL_BASE_PATH=sized_model_base, MODEL_VERSION=1)
    body = upload(client, videos["short"], fps=FPS)
    assert (body["version"], body["reproducibility"]["settings"]["crop_size"]) == ("1", 64)
