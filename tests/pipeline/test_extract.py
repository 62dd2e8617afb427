from __future__ import annotations

import queue
from pathlib import Path

import numpy as np
import pytest

from api.pipeline.decode import Frame
from api.pipeline.extract import _ByteQueue, _Done, extract_faces
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


def test_progress_is_reported_per_sampled_frame(
    videos: dict[str, Path], detector: HaarFaceDetector
) -> None:
    calls: list[tuple[int, int | None]] = []
    extract_faces(
        videos["faces"],
        target_fps=2,
        max_frames=256,
        detector=detector,
        margin=0.2,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(i, 8) for i in range(1, 9)]


def test_a_failure_while_detecting_stops_the_reader(
    videos: dict[str, Path], detector: HaarFaceDetector
) -> None:
    """The reader thread must not stay blocked on its full queue after the consumer fails."""
    import threading

    def explode(done: int, total: int | None) -> None:
        if done == 2:
            raise RuntimeError("consumer failed")

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="consumer failed"):
        extract_faces(
            videos["hd"],
            target_fps=25,
            max_frames=256,
            detector=detector,
            margin=0.2,
            on_progress=explode,
        )
    assert threading.active_count() == before


def test_stage_times_are_measured(videos: dict[str, Path], detector: HaarFaceDetector) -> None:
    s = extract_faces(videos["hd"], target_fps=2, max_frames=256, detector=detector, margin=0.2)
    assert s.decode_seconds > 0
    assert s.detect_seconds > 0


def test_the_frame_queue_is_bounded_by_bytes_not_by_frames() -> None:
    """Small frames queue deep, a large one alone; the end marker always gets through."""
    small = Frame(0, 0.0, np.zeros((10, 10, 3), np.uint8))  # 300 bytes
    frames = _ByteQueue(1000)
    for _ in range(4):  # 0, 300, 600, 900 bytes queued before each put: all below 1000
        frames.put(small, timeout=0.01)
    with pytest.raises(queue.Full):
        frames.put(small, timeout=0.01)
    assert frames.get() is small
    frames.put(_Done(), timeout=0.01)  # 900 queued: room again
    assert [type(frames.get()) for _ in range(4)] == [Frame, Frame, Frame, _Done]
    big = Frame(1, 0.0, np.zeros((100, 100, 3), np.uint8))  # 30 kB, far over the budget
    frames.put(big, timeout=0.01)  # an empty queue takes any one frame
    with pytest.raises(queue.Full):
        frames.put(small, timeout=0.01)
