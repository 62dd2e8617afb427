"""One prediction, start to finish: the glue between the pipeline and a scoring backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from api.backends import ScoringBackend
from api.errors import NoFaceFound, Overloaded, UnsupportedMedia
from api.pipeline.aggregate import detect_rate, label_for, video_score
from api.pipeline.batching import to_model_input
from api.pipeline.extract import FaceSamples, extract_faces
from api.pipeline.faces import HaarFaceDetector
from api.pipeline.sniff import MediaKind, Sniffed, sniff_file
from api.schemas import FrameSample, Meta, PredictResponse
from settings import Settings


class Admission:
    """Counts /predict requests in flight and refuses, rather than queues, those over the limit.

    Refusing at once keeps latency bounded for the admitted ones and tells a client (or a load
    balancer) to go elsewhere; the pool's queue can then never hold more than `limit` jobs.
    Used on the event loop only, so a plain counter is safe.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        if self.active >= self.limit:
            raise Overloaded(
                f"The gateway is busy with {self.active} videos (MAX_INFLIGHT_REQUESTS="
                f"{self.limit}); retry in a moment.",
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


@dataclass(slots=True)
class DetectionService:
    settings: Settings
    backend: ScoringBackend
    detector: HaarFaceDetector
    pool: Executor  # CPU-bound pipeline work runs here, never on the event loop
    admission: Admission = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.settings.MAX_INFLIGHT_REQUESTS)

    async def predict(self, path: Path, *, fps: float, max_frames: int) -> PredictResponse:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(self.pool, self._extract, path, fps, max_frames)
        _require_faces(samples, fps, self.detector)
        scores = await self.backend.predict(to_model_input(samples.crops))
        return self._answer(samples, scores, fps, max_frames, started)

    def _extract(self, path: Path, fps: float, max_frames: int) -> FaceSamples:
        _require_video(sniff_file(path))
        return extract_faces(
            path,
            target_fps=fps,
            max_frames=max_frames,
            detector=self.detector,
            margin=self.settings.FACE_MARGIN,
            max_pixels=self.settings.MAX_VIDEO_PIXELS,
        )

    def _answer(
        self,
        samples: FaceSamples,
        scores: np.ndarray,
        fps: float,
        max_frames: int,
        started: float,
    ) -> PredictResponse:
        score = video_score(scores)
        threshold = self.settings.THRESHOLD
        return PredictResponse(
            score=score,
            label=label_for(score, threshold),
            frame_samples=[
                FrameSample(t=t, score=float(s)) for t, s in zip(samples.times, scores, strict=True)
            ],
            version=str(self.settings.MODEL_VERSION),
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
            threshold=threshold,
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
