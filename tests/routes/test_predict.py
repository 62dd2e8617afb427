"""POST /predict end to end: real videos, real pipeline, real model, both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.contract import to_model_input
from api.pipeline.extract import extract_faces
from api.pipeline.faces import HaarFaceDetector
from tests.conftest import AppFactory
from tests.support.models import expected_scores
from tests.support.tf_serving import TFServingTestServer

ORIGINAL_KEYS = {"score", "label", "frame_samples", "version", "latency_ms", "meta"}
ORIGINAL_META = {"src_fps", "total_frames", "used_step", "face_frames", "face_detect_rate"}


def upload(client: TestClient, path: Path, **params: object) -> dict[str, Any]:
    with path.open("rb") as f:
        response = client.post(
            "/predict", params=params, files={"file": (path.name, f, "video/mp4")}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_answer_keeps_the_original_shape(client: TestClient, videos: dict[str, Path]) -> None:
    body = upload(client, videos["faces"], fps=2)
    assert body.keys() >= ORIGINAL_KEYS
    meta = body["meta"]
    assert meta.keys() >= ORIGINAL_META
    assert meta["src_fps"] == 10.0
    assert meta["total_frames"] == 40
    assert meta["used_step"] == 5
    assert meta["face_frames"] == meta["sampled_frames"] == 8
    assert meta["face_detect_rate"] == 1.0
    assert body["version"] == "1"
    assert isinstance(body["latency_ms"], int)


def test_scores_are_exactly_the_model_on_the_pipeline_crops(
    client: TestClient, videos: dict[str, Path]
) -> None:
    body = upload(client, videos["faces"], fps=2)
    crops = extract_faces(
        videos["faces"], target_fps=2, max_frames=256, detector=HaarFaceDetector(), margin=0.2
    ).crops
    expected = expected_scores(to_model_input(crops))
    samples = body["frame_samples"]
    assert [s["t"] for s in samples] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    got = np.array([s["score"] for s in samples])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert body["score"] == pytest.approx(float(expected.mean()), abs=1e-5)
    assert len(set(np.round(got, 4))) > 4  # the frames really differ
    assert body["label"] == ("fake" if body["score"] >= body["threshold"] else "real")


def test_both_backends_give_the_same_answer(
    make_client: AppFactory, serving: TFServingTestServer, videos: dict[str, Path]
) -> None:
    embedded = upload(make_client(BACKEND="embedded"), videos["mixed"], fps=5)
    remote = upload(make_client(TF_SERVING_URL=serving.url), videos["mixed"], fps=5)
    assert (embedded["backend"], remote["backend"]) == ("embedded", "tfserving")
    assert embedded["score"] == pytest.approx(remote["score"], abs=1e-4)
    for a, b in zip(embedded["frame_samples"], remote["frame_samples"], strict=True):
        assert a["t"] == b["t"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)
    assert embedded["meta"] == remote["meta"]


def test_face_detect_rate_counts_frames_without_faces(
    client: TestClient, videos: dict[str, Path]
) -> None:
    body = upload(client, videos["mixed"], fps=2)
    meta = body["meta"]
    assert (meta["sampled_frames"], meta["face_frames"]) == (8, 4)
    assert meta["face_detect_rate"] == 0.5
    assert [s["t"] for s in body["frame_samples"]] == pytest.approx([0.0, 0.5, 2.0, 2.5])


@pytest.mark.parametrize(("threshold", "label"), [(0.0, "fake"), (1.0, "real")])
def test_threshold_decides_the_label(
    make_client: AppFactory, videos: dict[str, Path], threshold: float, label: str
) -> None:
    body = upload(make_client(THRESHOLD=threshold), videos["faces"])
    assert (body["label"], body["threshold"]) == (label, threshold)


def test_defaults_and_caps_from_settings(make_client: AppFactory, videos: dict[str, Path]) -> None:
    body = upload(make_client(DEFAULT_FPS=5.0, MAX_FRAMES=6), videos["faces"])
    meta = body["meta"]
    assert (meta["target_fps"], meta["used_step"], meta["sampled_frames"]) == (5.0, 2, 6)
    body = upload(make_client(MAX_FRAMES=6), videos["faces"], fps=10, max_frames=3)
    assert body["meta"]["sampled_frames"] == 3


def test_hd_video(client: TestClient, videos: dict[str, Path]) -> None:
    body = upload(client, videos["hd"], fps=2)
    meta = body["meta"]
    assert (meta["width"], meta["height"], meta["used_step"]) == (1280, 720, 12)
    assert meta["face_frames"] == meta["sampled_frames"] == 5


def test_scores_streamed_in_batches_equal_scores_sent_at_the_end(
    make_client: AppFactory, serving: TFServingTestServer, videos: dict[str, Path]
) -> None:
    """STREAM_BATCH=3: 8 faces go out as 3 + 3 while the video is read, then 2; the answer
    is the one of a single call after the last frame."""
    answers, calls = [], []
    for batch in (3, 0):
        client = make_client(TF_SERVING_URL=serving.url, STREAM_BATCH=batch)
        before = len(serving.state.requests)
        answers.append(upload(client, videos["faces"], fps=2))
        calls.append(sum(m == "POST" for m, _ in serving.state.requests[before:]))
    assert calls == [3, 1]
    streamed, at_end = ([s["score"] for s in a["frame_samples"]] for a in answers)
    assert streamed == at_end
    assert answers[0]["score"] == answers[1]["score"]
