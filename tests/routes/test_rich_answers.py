"""Issue 6: images, every face in tracks, coverage and abstention, operating points,
reproducibility, crops. Real videos and images through the real app and model."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.thresholds import read_card
from tests.conftest import AppFactory
from tests.support.videos import astronaut_bgr, blank_frame, make_two_faces_video, write_video


def post(client: TestClient, data: bytes, **params: Any) -> dict[str, Any]:
    response = client.post("/predict", params=params, files={"file": ("upload", data)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(autouse=True)
def fresh_cards() -> None:
    read_card.cache_clear()


def test_two_faces_are_found_tracked_and_scored_separately(
    make_client: AppFactory, tmp_path: Path
) -> None:
    video = make_two_faces_video(tmp_path / "two.mp4", seconds=4, fps=10).read_bytes()
    body = post(make_client(), video, fps=2)
    assert len(body["tracks"]) == 2
    for frame in body["frames"]:
        assert sorted(face["track"] for face in frame["faces"]) == [0, 1]
    left, right = sorted(body["tracks"], key=lambda t: body_x(body, t["id"]))
    assert left["frames"] == right["frames"] == 8
    assert (left["start"], left["end"]) == (0.0, 3.5)
    # The right face is tinted red: the mean-red test model scores it higher, every frame.
    assert right["score"] > left["score"] + 0.05
    for frame in body["frames"]:
        scores = {f["track"]: f["score"] for f in frame["faces"]}
        assert scores[right["id"]] > scores[left["id"]]
    # The most suspicious track decides.
    assert body["decision"]["track"] == right["id"]
    assert body["decision"]["score"] == pytest.approx(right["score"])
    assert body["coverage"]["faces"] == 16
    assert body["coverage"]["tracks"] == 2


def body_x(body: dict[str, Any], track: int) -> int:
    face = next(f for f in body["frames"][0]["faces"] if f["track"] == track)
    x: int = face["box"][0]
    return x


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".bmp"])
def test_images_are_one_frame_answers(make_client: AppFactory, ext: str) -> None:
    ok, data = cv2.imencode(ext, astronaut_bgr())
    assert ok
    body = post(make_client(), data.tobytes())
    assert body["media"] == "image"
    assert body["meta"]["sampled_frames"] == body["meta"]["face_frames"] == 1
    assert len(body["frame_samples"]) == 1
    (frame,) = body["frames"]
    assert frame["t"] == 0.0
    face = frame["faces"][0]
    assert face["box"][2] > 60  # the astronaut's face, in source pixels
    assert body["score"] == pytest.approx(face["score"])
    assert body["verdict"] in {"real", "fake"}
    assert "few_frames" not in [r["code"] for r in body["reasons"]]


def test_an_image_without_a_face_is_uncertain(make_client: AppFactory) -> None:
    ok, data = cv2.imencode(".png", blank_frame(400, 300))
    assert ok
    body = post(make_client(), data.tobytes())
    assert (body["media"], body["verdict"], body["score"]) == ("image", "uncertain", None)
    assert [r["code"] for r in body["reasons"]] == ["no_face"]


def test_the_same_upload_gives_the_same_answer(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client()
    first = post(client, videos["mixed"].read_bytes(), fps=5)
    second = post(make_client(), videos["mixed"].read_bytes(), fps=5)  # another process state
    for body in (first, second):
        body.pop("latency_ms")
        body["provenance"].pop("seconds")  # a timing, like latency_ms
    assert first == second
    times = [f["t"] for f in first["frames"]]
    assert times == pytest.approx([i * 0.2 for i in range(20)])  # exact decoder times
    settings = first["reproducibility"]["settings"]
    assert settings["fps"] == 5.0
    assert settings["detector"]["max_side"] == 640
    assert first["reproducibility"]["model_digest"].startswith("sha256:")


def test_the_digest_changes_with_the_model(
    make_client: AppFactory, model_base: Path, tmp_path: Path, videos: dict[str, Path]
) -> None:
    other = tmp_path / "models"
    shutil.copytree(model_base / "deepfake" / "2", other / "deepfake" / "1")  # green model
    clip = videos["short"].read_bytes()
    red = post(make_client(), clip)["reproducibility"]["model_digest"]
    green = post(make_client(MODEL_BASE_PATH=other), clip)["reproducibility"]["model_digest"]
    assert red != green
    assert post(make_client(), clip)["reproducibility"]["model_digest"] == red


def card_base(model_base: Path, tmp_path: Path, card: dict[str, Any]) -> Path:
    base = tmp_path / "carded"
    shutil.copytree(model_base / "deepfake" / "1", base / "deepfake" / "1")
    (base / "deepfake" / "1" / "model_card.json").write_text(json.dumps(card))
    return base


CARD = {
    "threshold": 0.3,
    "uncertainty_band": [0.25, 0.35],
    "operating_points": {
        "fpr1": {"threshold": 0.95, "fpr": 0.01, "tpr": 0.2},
        "fpr10": {"threshold": 0.2, "fpr": 0.1, "tpr": 0.8},
    },
}


@pytest.mark.parametrize(
    ("point", "threshold", "source"),
    [
        (None, 0.3, "model card v1"),
        ("fpr1", 0.95, "model card v1, operating point fpr1"),
        ("fpr10", 0.2, "model card v1, operating point fpr10"),
    ],
)
def test_operating_points_from_the_card(
    make_client: AppFactory,
    model_base: Path,
    tmp_path: Path,
    videos: dict[str, Path],
    point: str | None,
    threshold: float,
    source: str,
) -> None:
    client = make_client(MODEL_BASE_PATH=card_base(model_base, tmp_path, CARD))
    params = {"operating_point": point} if point else {}
    body = post(client, videos["faces"].read_bytes(), **params)
    assert (body["threshold"], body["threshold_source"]) == (threshold, source)
    assert body["decision"]["operating_point"] == point
    assert body["decision"]["band"] == pytest.approx([threshold - 0.05, threshold + 0.05])
    assert body["label"] == ("fake" if body["score"] >= threshold else "real")


def test_unknown_operating_point_lists_the_known_ones(
    make_client: AppFactory, model_base: Path, tmp_path: Path, videos: dict[str, Path]
) -> None:
    client = make_client(MODEL_BASE_PATH=card_base(model_base, tmp_path, CARD))
    response = client.post(
        "/predict",
        params={"operating_point": "fpr0"},
        files={"file": ("v.mp4", videos["short"].read_bytes())},
    )
    assert response.status_code == 422
    assert "['fpr1', 'fpr10']" in response.json()["error"]
    metrics = client.get("/metrics").text
    assert "gateway_sampled_frames_count 0.0" in metrics  # refused before decoding


def test_a_score_in_the_band_is_uncertain(
    make_client: AppFactory, model_base: Path, tmp_path: Path, videos: dict[str, Path]
) -> None:
    score = post(make_client(), videos["faces"].read_bytes())["decision"]["score"]
    card = {"threshold": score, "uncertainty_band": [score - 0.02, score + 0.02]}
    client = make_client(MODEL_BASE_PATH=card_base(model_base, tmp_path, card))
    body = post(client, videos["faces"].read_bytes())
    assert body["verdict"] == "uncertain"
    assert [r["code"] for r in body["reasons"]] == ["near_threshold"]
    assert body["label"] == "fake"  # the original label is kept as it was


def test_weak_evidence_is_named(make_client: AppFactory, tmp_path: Path) -> None:
    """Small faces in a short clip: uncertain, and each reason says why."""
    small = cv2.resize(astronaut_bgr(), (220, 220))  # the face is ~41 px wide
    frames = []
    for i in range(10):
        frame = blank_frame(640, 360)
        frame[60 : 60 + 220, 100 + 4 * i : 320 + 4 * i] = small
        frames.append(frame)
    clip = write_video(tmp_path / "small.mp4", frames, fps=10).read_bytes()
    body = post(make_client(), clip, fps=2)
    codes = [r["code"] for r in body["reasons"]]
    assert body["verdict"] == "uncertain"
    assert "faces_too_small" in codes
    assert "few_frames" in codes  # 1 s at 2 fps: 2 frames with a face
    assert body["coverage"]["smallest_face_px"] < 48


def test_crops_on_request(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client()
    plain = post(client, videos["short"].read_bytes())
    assert all(f["crop"] is None for fr in plain["frames"] for f in fr["faces"])
    body = post(client, videos["short"].read_bytes(), include="crops")
    for frame in body["frames"]:
        for face in frame["faces"]:
            raw = np.frombuffer(base64.b64decode(face["crop"]), np.uint8)
            image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
            assert image is not None
            assert image.shape == (64, 64, 3)
    bad = client.post("/predict", params={"include": "everything"}, files={"file": ("v", b"x")})
    assert bad.status_code == 422
