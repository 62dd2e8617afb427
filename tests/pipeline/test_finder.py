"""Following a face between sampled frames: cheaper searches, same faces found."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from api.pipeline.extract import extract_faces
from api.pipeline.faces import DetectorConfig, HaarFaceDetector
from api.pipeline.finder import MAX_SKIPPED, FaceFinder
from tests.pipeline.test_faces import iou, paste, scene
from tests.support.videos import blank_frame, true_face


def test_follows_a_moving_face_and_searches_fully_every_n_frames() -> None:
    finder = FaceFinder(HaarFaceDetector(), redetect_every=4)
    full = HaarFaceDetector(DetectorConfig(max_side=0))
    for i in range(8):
        frame, _ = scene(1280, 720, 300 + 25 * i, 100, 420)
        box = finder.find(frame)
        assert box is not None
        assert iou(box, full.detect(frame)[0]) > 0.6
    # Full searches on frames 0 and 4; from frame 1 on the face is followed, and frame 4's
    # search only looks for new faces beside it.
    assert (finder.full_searches, finder.followed) == (2, 7)


def test_a_face_that_walks_in_is_found_at_the_next_full_search() -> None:
    finder = FaceFinder(HaarFaceDetector(), redetect_every=4)
    for i in range(8):
        frame = blank_frame(1920, 1080)
        first = paste(frame, 100 + 10 * i, 200, 700)
        second = paste(frame, 1150, 300, 600) if i >= 2 else None  # walks in on frame 2
        faces = finder.find_all(frame)
        assert max(iou(f, first) for f in faces) > 0.6
        on_second = second is not None and max(iou(f, second) for f in faces) > 0.6
        # Frames 2 and 3 only follow the known face; frame 4's search for new faces (the
        # known one blanked) finds the second, which is followed from then on.
        assert on_second == (i >= 4)
    assert finder.followed >= 6


def test_a_lost_face_triggers_a_full_search() -> None:
    finder = FaceFinder(HaarFaceDetector(), redetect_every=10)
    first, _ = scene(1280, 720, 100, 100, 420)
    moved, expected = scene(1280, 720, 760, 120, 512)  # jumped far outside the window
    assert finder.find(first) is not None
    box = finder.find(moved)
    assert box is not None
    assert iou(box, expected) > 0.5
    assert finder.full_searches == 2
    assert finder.find(blank_frame(1280, 720)) is None


def test_redetect_every_1_is_a_full_search_per_frame() -> None:
    finder = FaceFinder(HaarFaceDetector(), redetect_every=1)
    for i in range(3):
        finder.find(scene(1280, 720, 300 + 20 * i, 100, 420)[0])
    assert (finder.full_searches, finder.followed) == (3, 0)


def test_following_finds_the_faces_a_full_search_finds(videos: dict[str, Path]) -> None:
    """Same frames with a face; and following sticks to the true face, where the full
    search's "largest box" sometimes takes a larger false detection instead."""
    kwargs = {"target_fps": 10, "max_frames": 256, "detector": HaarFaceDetector(), "margin": 0.2}
    full = extract_faces(videos["mixed"], redetect_every=1, **kwargs)  # type: ignore[arg-type]
    followed = extract_faces(videos["mixed"], redetect_every=4, **kwargs)  # type: ignore[arg-type]
    assert followed.times == full.times
    truth = [true_face(round(t * 10), 40) for t in full.times]
    on_face = [
        sum(iou(b, t) > 0.5 for b, t in zip(run.boxes, truth, strict=True))
        for run in (full, followed)
    ]
    print(f"\non the true face: full search {on_face[0]}/20, following {on_face[1]}/20")
    assert on_face[1] >= on_face[0]
    assert on_face[1] >= 0.9 * len(truth)


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    """The frame with sensor/compression-like noise, different every time."""
    noise = np.random.default_rng(seed).normal(0, 3, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_the_search_for_new_faces_is_skipped_while_nothing_else_changes() -> None:
    """A still shot: after the first search only the followed face is looked at, except for
    one search every (MAX_SKIPPED + 1) * redetect_every frames."""
    frame = blank_frame(1920, 1080)
    face = paste(frame, 600, 200, 700)
    finder = FaceFinder(HaarFaceDetector(), redetect_every=4)
    for i in range(17):
        found = finder.find_all(noisy(frame, i))
        assert max(iou(f, face) for f in found) > 0.6
    assert (finder.full_searches, finder.skipped_searches) == (2, MAX_SKIPPED)  # 0 and 16


def test_slow_changes_add_up_until_a_search_runs() -> None:
    """Brightening by 6 grey levels a frame is below the threshold frame to frame, but the
    change is measured against the last search: the 4th frame is 24 levels brighter."""
    finder = FaceFinder(HaarFaceDetector(), redetect_every=2)
    for i in range(5):
        frame = blank_frame(1920, 1080, value=60 + 6 * i)
        paste(frame, 600, 200, 700)
        finder.find_all(frame)
    # Frame 0 searched; frame 2 (12 levels) skipped; frame 4 (24 levels) searched.
    assert (finder.full_searches, finder.skipped_searches) == (2, 1)
