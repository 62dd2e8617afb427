"""From per-frame scores to the video's verdict, as the original service defined it."""

from __future__ import annotations

from typing import Literal

import numpy as np

Label = Literal["fake", "real"]


def video_score(frame_scores: np.ndarray) -> float:
    """Mean P(fake) over the scored frames."""
    scores = np.asarray(frame_scores, dtype=np.float64).reshape(-1)
    if scores.size == 0:
        raise ValueError("no frame scores to aggregate")
    return float(scores.mean())


def label_for(score: float, threshold: float) -> Label:
    """'fake' at or above the threshold, as the original service decided."""
    return "fake" if score >= threshold else "real"


def detect_rate(face_frames: int, sampled_frames: int) -> float:
    """Share of sampled frames in which a face was found (0.0 when nothing was sampled)."""
    return face_frames / sampled_frames if sampled_frames else 0.0
