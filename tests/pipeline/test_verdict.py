"""The verdict rule and the track linking, on hand-made samples (no video needed)."""

from __future__ import annotations

import numpy as np
import pytest

from api.pipeline.decode import VideoInfo
from api.pipeline.extract import FaceCrop, FaceSamples, SampledFrame
from api.pipeline.faces import Box
from api.pipeline.tracks import link
from api.pipeline.verdict import assess

INFO = VideoInfo(src_fps=10.0, total_frames=100, width=640, height=360)
CHECKERBOARD = np.indices((64, 64)).sum(axis=0) % 2 * 2 - 1  # +-1: high Laplacian variance


def crop(value: int = 128, sharp: bool = True) -> np.ndarray:
    """A grey crop of mean `value`: a fine checkerboard when sharp, flat when blurry."""
    amplitude = min(value, 20) if sharp else 0
    grey = (value + amplitude * CHECKERBOARD).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def samples(frames: list[list[Box]], value: int = 128, sharp: bool = True) -> FaceSamples:
    s = FaceSamples(info=INFO, step=5)
    for i, boxes in enumerate(frames):
        faces = [FaceCrop(box, crop(value, sharp)) for box in boxes]
        s.frames.append(SampledFrame(i * 5, i * 0.5, faces))
    return s


A, B = (100, 100, 80, 80), (400, 100, 80, 80)


def test_link_follows_each_face_and_starts_new_tracks() -> None:
    frames = [[A, B], [(110, 102, 82, 82), (390, 98, 80, 80)], [(120, 104, 80, 80)], []]
    tracks = link(frames)
    assert [t.members for t in tracks] == [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 1)]]


def test_link_refuses_jumps_and_size_changes() -> None:
    tracks = link([[A], [(300, 100, 80, 80)], [(300, 100, 200, 200)]])
    assert len(tracks) == 3


@pytest.mark.parametrize(
    ("scores", "threshold", "band", "verdict", "codes"),
    [
        ([[0.9], [0.8], [0.85]], 0.5, (0.5, 0.5), "fake", []),
        ([[0.1], [0.2], [0.15]], 0.5, (0.5, 0.5), "real", []),
        ([[0.52], [0.5], [0.51]], 0.5, (0.45, 0.55), "uncertain", ["near_threshold"]),
    ],
)
def test_verdicts(
    scores: list[list[float]],
    threshold: float,
    band: tuple[float, float],
    verdict: str,
    codes: list[str],
) -> None:
    result = assess(samples([[A], [A], [A]]), scores, threshold, band)
    assert result.verdict == verdict
    assert [r.code for r in result.reasons] == codes


def test_the_most_suspicious_track_decides() -> None:
    frames = [[A, B]] * 3
    scores = [[0.1, 0.9]] * 3  # one real face, one fake face
    result = assess(samples(frames), scores, 0.5, (0.5, 0.5))
    assert (result.verdict, result.deciding_track) == ("fake", 1)
    assert result.decision_score == pytest.approx(0.9)


def test_a_one_frame_blip_does_not_outvote_a_steady_track() -> None:
    frames = [[A], [A], [A, B]]
    scores = [[0.2], [0.2], [0.2, 0.99]]  # B appears once: not long enough to decide
    result = assess(samples(frames), scores, 0.5, (0.5, 0.5))
    assert (result.verdict, result.deciding_track) == ("real", 0)


@pytest.mark.parametrize(
    ("frames", "value", "sharp", "code"),
    [
        ([[], [], []], 128, True, "no_face"),
        ([[(100, 100, 30, 30)]] * 3, 128, True, "faces_too_small"),
        ([[A], [], [], []], 128, True, "few_frames"),
        ([[A]] * 3, 10, True, "too_dark"),
        ([[A]] * 3, 128, False, "too_blurry"),
    ],
)
def test_weak_evidence_makes_the_verdict_uncertain(
    frames: list[list[Box]], value: int, sharp: bool, code: str
) -> None:
    s = samples(frames, value, sharp)
    scores = [[0.9] * len(f) for f in frames]
    result = assess(s, scores, 0.5, (0.5, 0.5))
    assert result.verdict == "uncertain"
    assert code in [r.code for r in result.reasons]


def test_low_coverage_is_noted_but_does_not_block() -> None:
    frames = [[A], [A], [A], [], [], [], []]
    result = assess(samples(frames), [[0.9], [0.9], [0.9], [], [], [], []], 0.5, (0.5, 0.5))
    assert result.verdict == "fake"
    assert [r.code for r in result.reasons] == ["low_coverage"]
