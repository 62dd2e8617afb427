from __future__ import annotations

import numpy as np
import pytest

from api.pipeline.aggregate import detect_rate, label_for, video_score


@pytest.mark.parametrize(
    ("scores", "mean"),
    [([0.2], 0.2), ([0.2, 0.4, 0.9], 0.5), ([[0.1], [0.3]], 0.2), ([1.0, 1.0], 1.0)],
)
def test_video_score_is_the_mean(scores: list[float], mean: float) -> None:
    assert video_score(np.array(scores, np.float32)) == pytest.approx(mean, abs=1e-7)


def test_video_score_needs_scores() -> None:
    with pytest.raises(ValueError, match="no frame scores"):
        video_score(np.array([]))


@pytest.mark.parametrize(
    ("score", "threshold", "label"),
    [(0.5, 0.5, "fake"), (0.4999, 0.5, "real"), (0.0, 0.0, "fake"), (0.99, 1.0, "real")],
)
def test_label_for(score: float, threshold: float, label: str) -> None:
    assert label_for(score, threshold) == label


@pytest.mark.parametrize(
    ("face", "sampled", "rate"), [(0, 0, 0.0), (0, 8, 0.0), (4, 8, 0.5), (8, 8, 1.0)]
)
def test_detect_rate_divides_by_sampled_frames(face: int, sampled: int, rate: float) -> None:
    assert detect_rate(face, sampled) == rate
