"""What a prediction is asked for besides the file: one value shared by /predict, /jobs and the
command line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PredictOptions:
    fps: float
    max_frames: int
    operating_point: str | None = None
    include_crops: bool = False
