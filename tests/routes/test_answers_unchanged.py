"""Answers stay the same across refactors: the shipped model v1, in-process, on generated clips,
an image and bad requests, against answers recorded before the change.

Re-record (only when an answer is meant to change, and say why in the commit):
    python -m tests.routes.test_answers_unchanged
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from settings import PROJECT_ROOT, Settings
from tests.support.videos import astronaut_bgr, make_two_faces_video, make_video

RECORDED = Path(__file__).parent.parent / "fixtures" / "answers" / "v1.json"
# LiteRT's float sums may differ in the last bits between CPUs; everything else is exact.
SCORE_TOLERANCE = 1e-6


def _media(root: Path) -> dict[str, Path]:
    image = root / "astronaut.png"
    cv2.imwrite(str(image), astronaut_bgr())
    text = root / "notes.txt"
    text.write_text("not a video\n")
    return {
        "faces": make_video(root / "faces.mp4", seconds=4, fps=10),
        "mixed": make_video(
            root / "mixed.mp4", seconds=4, fps=10, has_face=lambda i: i // 10 in (0, 2)
        ),
        "no_face": make_video(root / "no_face.mp4", seconds=2, fps=10, has_face=lambda i: False),
        "hd": make_video(root / "hd.mp4", seconds=2, fps=25, width=1280, height=720),
        "two": make_two_faces_video(root / "two.mp4", seconds=4, fps=10),
        "image": image,
        "text": text,
    }


# name -> (media, query)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "faces": ("faces", {"fps": 2}),
    "faces_default_fps": ("faces", {}),
    "mixed_max_frames": ("mixed", {"fps": 5, "max_frames": 7}),
    "no_face": ("no_face", {}),
    "hd_fpr1": ("hd", {"fps": 4, "operating_point": "fpr1"}),
    "two_faces_crops": ("two", {"fps": 1, "include": "crops"}),
    "image": ("image", {}),
    "text_refused": ("text", {}),
    "fps_out_of_range": ("faces", {"fps": 0}),
    "unknown_operating_point": ("faces", {"operating_point": "nope"}),
}


def answers(client: TestClient, media: dict[str, Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (file, query) in CASES.items():
        response = client.post(
            "/predict", params=query, files={"file": ("upload", media[file].read_bytes())}
        )
        out[name] = {"status": response.status_code, "body": without_timings(response.json())}
    return out


def without_timings(body: dict[str, Any]) -> dict[str, Any]:
    """The answer less what the machine's speed sets: latency_ms, provenance.seconds."""
    body.pop("latency_ms", None)
    if isinstance(body.get("provenance"), dict):
        body["provenance"].pop("seconds", None)
    return body


def shipped_settings(upload_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        MODEL_BASE_PATH=PROJECT_ROOT / "models",
        MODEL_VERSION=1,
        BACKEND="embedded",
        UPLOAD_DIR=upload_dir,
    )


@pytest.fixture(scope="module")
def shipped_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    uploads = tmp_path_factory.mktemp("uploads")
    with TestClient(create_app(shipped_settings(uploads))) as client:
        yield client


def assert_same(actual: Any, recorded: Any, where: str = "") -> None:
    if isinstance(recorded, float) and isinstance(actual, float):
        assert math.isclose(actual, recorded, rel_tol=0, abs_tol=SCORE_TOLERANCE), where
    elif isinstance(recorded, dict):
        assert isinstance(actual, dict), where
        assert sorted(actual) == sorted(recorded), where
        for key, value in recorded.items():
            assert_same(actual[key], value, f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(recorded), where
        for i, (a, r) in enumerate(zip(actual, recorded, strict=True)):
            assert_same(a, r, f"{where}[{i}]")
    else:
        assert actual == recorded, where


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _media(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize("case", CASES)
def test_answer_matches_the_recorded_one(
    case: str, shipped_client: TestClient, media: dict[str, Path]
) -> None:
    recorded = json.loads(RECORDED.read_text())[case]
    file, query = CASES[case]
    response = shipped_client.post(
        "/predict", params=query, files={"file": ("upload", media[file].read_bytes())}
    )
    assert response.status_code == recorded["status"]
    assert_same(without_timings(response.json()), recorded["body"], case)


def record(out: Path = RECORDED) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "uploads").mkdir()
        (root / "media").mkdir()
        with TestClient(create_app(shipped_settings(root / "uploads"))) as client:
            recorded = answers(client, _media(root / "media"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(recorded)} answers in {out}", file=sys.stderr)


if __name__ == "__main__":
    record()
