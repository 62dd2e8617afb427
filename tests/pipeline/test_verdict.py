"""The verdict rule and the track linking, on hand-made samples (no video needed)."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from api.pipeline.decode import VideoInfo
from api.pipeline.extract import FaceCrop, FaceSamples, SampledFrame
from api.pipeline.faces import Box
from api.pipeline.tracks import link
from api.pipeline.verdict import Assessment, ProvenanceSummary, apply_provenance, assess
from api.provenance import Summary

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


def detector(verdict: str) -> Assessment:
    """A detector's assessment with the given verdict: fake, real, uncertain (near the
    threshold) or uncertain without a face."""
    scores = {"fake": 0.9, "real": 0.1, "uncertain": 0.5}
    if verdict == "no_face":
        return assess(samples([[], []]), [[], []], 0.5, (0.45, 0.55))
    result = assess(samples([[A]] * 3), [[scores[verdict]]] * 3, 0.5, (0.45, 0.55))
    assert result.verdict == verdict
    return result


# summary -> the verdict after it, for a detector's fake / real / uncertain / no face
PROVENANCE_RULES: dict[str, tuple[str, str, str, str]] = {
    "declared_ai_generated": ("fake", "fake", "fake", "fake"),
    "declared_ai_edited": ("fake", "uncertain", "uncertain", "uncertain"),
    "edited_after_signing": ("fake", "uncertain", "uncertain", "uncertain"),
    "declared_captured": ("fake", "real", "uncertain", "uncertain"),
    "no_provenance": ("fake", "real", "uncertain", "uncertain"),
}


@pytest.mark.parametrize("summary", PROVENANCE_RULES)
@pytest.mark.parametrize("before", range(4))
def test_provenance_rules(summary: ProvenanceSummary, before: int) -> None:
    start = ("fake", "real", "uncertain", "no_face")[before]
    original = detector(start)
    codes_before = [r.code for r in original.reasons]
    score, track = original.decision_score, original.deciding_track
    result = apply_provenance(original, summary, "its C2PA manifest (signed by Example CA)")
    assert result.verdict == PROVENANCE_RULES[summary][before]
    added = [r.code for r in result.reasons][len(codes_before) :]
    lowers = summary in ("declared_ai_generated", "declared_ai_edited", "edited_after_signing")
    assert added == ([summary] if lowers else [])
    assert result.rule == (
        "provenance" if summary == "declared_ai_generated" else "most_suspicious_track"
    )
    # The detector's own figures stay for the user to see.
    assert (result.decision_score, result.deciding_track) == (score, track)
    if lowers:
        assert "signed by Example CA" in result.reasons[-1].message


def test_provenance_summaries_agree_with_the_library() -> None:
    """verdict.py spells the summaries out (the pipeline imports nothing above it): the two
    lists must not drift apart."""
    assert set(get_args(ProvenanceSummary)) == set(get_args(Summary))
