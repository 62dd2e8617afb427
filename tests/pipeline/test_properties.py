"""Property-based checks of the sampling, box and aggregation arithmetic (hypothesis)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.pipeline.aggregate import detect_rate, label_for, video_score
from api.pipeline.decode import open_video, sample_frames, sampling_step
from api.pipeline.faces import expand
from tests.support.videos import write_video

FRAMES, FPS = 30, 10.0


@pytest.fixture(scope="module")
def counter_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 small frames at 10 fps."""
    frames = [np.full((48, 64, 3), 8 * i, np.uint8) for i in range(FRAMES)]
    return write_video(tmp_path_factory.mktemp("counter") / "c.mp4", frames, FPS)


@given(src=st.floats(0.5, 1000.0), target=st.floats(0.01, 120.0))
def test_sampling_step_keeps_the_rate_close_to_the_target(src: float, target: float) -> None:
    step = sampling_step(src, target)
    assert step >= 1
    effective = src / step
    if target >= src:
        assert step == 1  # never fewer frames than asked for by skipping
    else:
        # Rounding src/target to a whole step moves the rate by at most 2x up or 1.5x down.
        assert target / 1.5 - 1e-9 <= effective <= target * 2 + 1e-9


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(step=st.integers(1, 40), cap=st.integers(1, 40))
def test_sampling_takes_every_step_th_frame_up_to_the_cap(
    counter_video: Path, step: int, cap: int
) -> None:
    with open_video(counter_video) as video:
        frames = list(sample_frames(video, step, cap))
    expected = list(range(0, FRAMES, step))[:cap]
    assert [f.index for f in frames] == expected
    assert len(frames) == min(cap, math.ceil(FRAMES / step))
    assert [f.t for f in frames] == pytest.approx([i / FPS for i in expected], abs=1e-6)


scores = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=300)


@given(values=scores)
def test_video_score_is_a_mean_within_the_frame_scores(values: list[float]) -> None:
    array = np.array(values, np.float32)
    score = video_score(array)
    assert float(array.min()) - 1e-6 <= score <= float(array.max()) + 1e-6
    assert score == pytest.approx(float(np.mean(array, dtype=np.float64)), abs=1e-9)
    assert video_score(array[::-1]) == pytest.approx(score, abs=1e-9)  # order does not matter


@given(score=st.floats(0.0, 1.0), low=st.floats(0.0, 1.0), high=st.floats(0.0, 1.0))
def test_label_is_monotonic_in_the_threshold(score: float, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    if label_for(score, high) == "fake":
        assert label_for(score, low) == "fake"
    assert label_for(score, score) == "fake"


@given(face=st.integers(0, 500), extra=st.integers(0, 500))
def test_detect_rate_is_a_fraction(face: int, extra: int) -> None:
    rate = detect_rate(face, face + extra)
    assert 0.0 <= rate <= 1.0
    assert (rate == 1.0) == (extra == 0 and face > 0)


@given(
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
    data=st.data(),
    margin=st.floats(0.0, 2.0),
)
def test_expanded_box_stays_in_the_frame_around_the_face(
    width: int, height: int, data: st.DataObject, margin: float
) -> None:
    x = data.draw(st.integers(0, width - 1))
    y = data.draw(st.integers(0, height - 1))
    w = data.draw(st.integers(1, width - x))
    h = data.draw(st.integers(1, height - y))
    ex, ey, ew, eh = expand((x, y, w, h), width, height, margin)
    assert min(ex, ey, ew, eh) >= 0
    assert ex + ew <= width
    assert ey + eh <= height
    assert ew <= int(w * (1 + margin))
    assert eh <= int(h * (1 + margin))
    # The face's centre stays inside the crop (whenever the crop is not empty).
    if ew and eh:
        assert ex <= x + w / 2 <= ex + ew
        assert ey <= y + h / 2 <= ey + eh
