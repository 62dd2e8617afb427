"""What one prediction says about itself, for the access log and the metrics.

Filled stage by stage, so that a prediction that fails part-way still reports what it did
(the frames it decoded before a 415, the scoring time before a backend error). It keeps the
raw values: the metrics want unrounded seconds, the log rounded milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from api.pipeline.extract import FaceSamples
from api.provenance import ProvenanceReport


@dataclass(slots=True)
class PredictRecord:
    # Extraction; `media` stays None until it returned.
    media: str | None = None
    sampled_frames: int = 0
    face_frames: int = 0
    decode_seconds: float = 0.0
    detect_seconds: float = 0.0
    # Scoring; `score_seconds` stays None until the backend was waited for.
    score_seconds: float | None = None  # in backend calls, mostly while the video was read
    score_wait_seconds: float = 0.0  # what the request waited for scores after the last frame
    # Provenance (api.provenance); `provenance` (the summary) stays None until it was read.
    provenance: str | None = None
    provenance_seconds: float = 0.0
    provenance_error: str | None = None  # the code of a manifest that could not be read
    # The answer; `verdict` stays None until it was built (`score` is None without a face).
    model_version: str | None = None
    score: float | None = None
    verdict: str | None = None
    # For the metrics only, never logged.
    score_calls: list[float] = field(default_factory=list)  # each backend call's seconds
    backend_error: str | None = None  # the code of the backend error that failed scoring

    def extracted(self, samples: FaceSamples) -> None:
        self.media = samples.media
        self.sampled_frames = samples.sampled_frames
        self.face_frames = samples.face_frames
        self.decode_seconds = samples.decode_seconds
        self.detect_seconds = samples.detect_seconds

    def inspected(self, report: ProvenanceReport) -> None:
        self.provenance, self.provenance_seconds = report.summary, report.seconds
        self.provenance_error = None if report.error is None else report.error.code

    def answered(self, version: str, score: float | None, verdict: str) -> None:
        self.model_version, self.score, self.verdict = version, score, verdict

    def log_fields(self) -> dict[str, Any]:
        """The log line's fields for the stages that finished (keys, order and rounding are
        what log readers parse: keep them)."""
        fields: dict[str, Any] = {}
        if self.media is not None:
            fields.update(
                media=self.media,
                sampled_frames=self.sampled_frames,
                face_frames=self.face_frames,
                decode_ms=_ms(self.decode_seconds),
                detect_ms=_ms(self.detect_seconds),
            )
        if self.score_seconds is not None:
            fields.update(
                score_ms=_ms(self.score_seconds), score_wait_ms=_ms(self.score_wait_seconds)
            )
        if self.verdict is not None:
            fields.update(
                model_version=self.model_version,
                score=None if self.score is None else round(self.score, 6),
                verdict=self.verdict,
            )
        if self.provenance is not None:
            fields.update(
                provenance=self.provenance,
                provenance_ms=_ms(self.provenance_seconds),
                provenance_error=self.provenance_error,
            )
        return fields


# Handed the record once the prediction ended, whether it answered or failed.
OnRecord = Callable[[PredictRecord], None]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
