"""One prediction, start to finish: the glue between the pipeline and a scoring backend."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from api.admission import Admission
from api.backends import Scored, ScoringBackend
from api.errors import BackendError, NoFaceFound, UnsupportedMedia
from api.metrics import Metrics
from api.pipeline.aggregate import detect_rate, label_for, video_score
from api.pipeline.extract import FaceSamples, Progress, extract_faces
from api.pipeline.faces import HaarFaceDetector
from api.pipeline.sniff import MediaKind, Sniffed, sniff_file
from api.schemas import FrameSample, Meta, PredictResponse
from api.thresholds import ThresholdPolicy
from settings import Settings


@dataclass(slots=True)
class DetectionService:
    settings: Settings
    backend: ScoringBackend
    detector: HaarFaceDetector
    pool: Executor  # CPU-bound pipeline work runs here, never on the event loop
    metrics: Metrics
    admission: Admission = field(init=False)
    thresholds: ThresholdPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.MAX_INFLIGHT_REQUESTS)
        self.thresholds = ThresholdPolicy(
            self.settings.THRESHOLD, self.settings.MODEL_BASE_PATH / self.settings.MODEL_NAME
        )

    async def predict(
        self,
        path: Path,
        *,
        fps: float,
        max_frames: int,
        log_fields: dict[str, Any] | None = None,
        observe: bool = True,
        on_progress: Progress | None = None,
    ) -> PredictResponse:
        """Score the video at `path`. `log_fields` receives what the access log should say;
        `observe=False` keeps internal probes out of the metrics; `on_progress` is called from
        a worker thread after each sampled frame."""
        fields = log_fields if log_fields is not None else {}
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(
            self.pool, self._extract, path, fps, max_frames, on_progress
        )
        fields.update(
            sampled_frames=samples.sampled_frames,
            face_frames=samples.face_frames,
            decode_ms=round(samples.decode_seconds * 1000, 1),
            detect_ms=round(samples.detect_seconds * 1000, 1),
        )
        if observe:
            self._observe_extraction(samples)
        _require_faces(samples, fps, self.detector)
        scored = await self._score(samples, fields, observe)
        answer = self._answer(samples, scored, fps, max_frames, started)
        fields.update(model_version=answer.version, score=round(answer.score, 6))
        if observe:
            self.metrics.scores.labels(answer.version).observe(answer.score)
        return answer

    def _extract(
        self, path: Path, fps: float, max_frames: int, on_progress: Progress | None
    ) -> FaceSamples:
        _require_video(sniff_file(path))
        return extract_faces(
            path,
            target_fps=fps,
            max_frames=max_frames,
            detector=self.detector,
            margin=self.settings.FACE_MARGIN,
            max_pixels=self.settings.MAX_VIDEO_PIXELS,
            redetect_every=self.settings.REDETECT_EVERY,
            on_progress=on_progress,
        )

    async def _score(self, samples: FaceSamples, fields: dict[str, Any], observe: bool) -> Scored:
        started = time.perf_counter()
        try:
            return await self.backend.predict(np.stack(samples.crops))
        except BackendError as exc:
            if observe:
                self.metrics.backend_errors.labels(exc.code).inc()
            raise
        finally:
            seconds = time.perf_counter() - started
            fields["score_ms"] = round(seconds * 1000, 1)
            if observe:
                self.metrics.stage_seconds.labels("score").observe(seconds)

    def _observe_extraction(self, samples: FaceSamples) -> None:
        self.metrics.stage_seconds.labels("decode").observe(samples.decode_seconds)
        self.metrics.stage_seconds.labels("detect").observe(samples.detect_seconds)
        self.metrics.frames.observe(samples.sampled_frames)
        self.metrics.faces.observe(samples.face_frames)

    def _answer(
        self,
        samples: FaceSamples,
        scored: Scored,
        fps: float,
        max_frames: int,
        started: float,
    ) -> PredictResponse:
        score = video_score(scored.scores)
        decision = self.thresholds.decide(scored.version)
        return PredictResponse(
            score=score,
            label=label_for(score, decision.threshold),
            frame_samples=[
                FrameSample(t=t, score=float(s))
                for t, s in zip(samples.times, scored.scores, strict=True)
            ],
            version=scored.version,
            latency_ms=round((time.perf_counter() - started) * 1000),
            meta=Meta(
                src_fps=samples.info.src_fps,
                total_frames=samples.info.total_frames,
                used_step=samples.step,
                face_frames=samples.face_frames,
                face_detect_rate=detect_rate(samples.face_frames, samples.sampled_frames),
                sampled_frames=samples.sampled_frames,
                target_fps=fps,
                max_frames=max_frames,
                width=samples.info.width,
                height=samples.info.height,
            ),
            model=self.settings.MODEL_NAME,
            backend=self.backend.name,
            threshold=decision.threshold,
            threshold_source=decision.source,
        )


def _require_video(sniffed: Sniffed) -> None:
    if sniffed.kind is MediaKind.VIDEO:
        return
    advice = {
        MediaKind.IMAGE: f"a {sniffed.format} image; /predict takes videos",
        MediaKind.AUDIO: f"{sniffed.format} audio without a picture",
        MediaKind.DOCUMENT: f"a {sniffed.format} file, not a video",
        MediaKind.TEXT: f"{sniffed.format}, not a video",
        MediaKind.UNKNOWN: "not in a recognised video container",
    }[sniffed.kind]
    raise UnsupportedMedia(
        f"The upload is {advice}. Send a video file: MP4/MOV, WebM/MKV, AVI, FLV, MPEG-TS/PS, "
        "WMV or Ogg (the type is read from the file's bytes, not its name).",
        details={"detected": sniffed.format},
    )


def _smallest_face_hint(detector: HaarFaceDetector) -> str:
    config = detector.config
    if config.max_side <= 0:
        return f"{config.min_face} px"
    return f"{config.min_face / config.max_side:.0%} of the frame's longer side"


def _require_faces(samples: FaceSamples, fps: float, detector: HaarFaceDetector) -> None:
    if samples.sampled_frames == 0:
        raise UnsupportedMedia(
            "The upload opened as media but no video frame could be decoded from it "
            "(audio-only, truncated or corrupt). Send a video with a picture track."
        )
    if samples.face_frames == 0:
        raise NoFaceFound(
            f"No face was found in any of the {samples.sampled_frames} frames sampled at "
            f"{fps:g} fps, so there is nothing to score. The detector finds frontal faces of "
            f"at least {_smallest_face_hint(detector)}; try a clip where a face is visible and "
            "well lit, or sample more frames with a higher fps.",
            details={
                "sampled_frames": samples.sampled_frames,
                "face_frames": 0,
                "used_step": samples.step,
                "src_fps": samples.info.src_fps,
            },
        )
