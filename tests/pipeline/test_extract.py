from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.pipeline.extract import extract_faces
from api.pipeline.faces import HaarFaceDetector


@pytest.fixture(scope="module")
def detector() -> HaarFaceDetector:
    return HaarFaceDetector()


def test_every_sampled_frame_with_a_face_is_cropped(
    videos: dict[str, Path], detector: HaarFaceDetector
) -> None:
    s = extract_faces(videos["faces"], target_fps=2, max_frames=256, detector=detector, margin=0.2)
    assert (s.step, s.sampled_frames, s.face_frames) == (5, 8, 8)
    assert s.times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    assert all(c.shape == (64, 64, 3) and c.dtype == np.uint8 for c in s.crops)
    # The photo moves and grows, so no two crops are the same.
    assert len({c.tobytes() for c in s.crops}) == 8
    # Boxes move right with the photo.
    xs = [b[0] for b in s.boxes]
    assert xs == sorted(xs)
    assert xs[-1] - xs[0] > 200


def test_frames_without_a_face_are_counted_not_scored(
    videos: dict[str, Path], detector: HaarFaceDetector
) -> None:
    s = extract_faces(videos["mixed"], target_fps=2, max_frames=256, detector=detector, margin=0.2)
    assert (s.sampled_frames, s.face_frames) == (8, 4)
    assert s.times == pytest.approx([0.0, 0.5, 2.0, 2.5])


def test_no_face_anywhere(videos: dict[str, Path], detector: HaarFaceDetector) -> None:
    s = extract_faces(
        videos["no_face"], target_fps=2, max_frames=256, detector=detector, margin=0.2
    )
    assert (s.sampled_frames, s.face_frames, s.crops) == (4, 0, [])


def test_max_frames_caps_sampled_frames(
    videos: dict[str, Path], detector: HaarFaceDetector
) -> None:
    s = extract_faces(videos["mixed"], target_fps=10, max_frames=15, detector=detector, margin=0.2)
    assert s.sampled_frames == 15
    assert s.face_frames == 10  # frames 0-9 show the face, 10-14 do not
