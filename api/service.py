"""One prediction, start to finish: the glue between the pipeline and a scoring backend."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from api import answer, backends
from api.admission import Admission
from api.backends import Scored, ScoringBackend
from api.contract import DEFAULT_CROP_SIZE
from api.digest import model_digest
from api.errors import BackendError, UnsupportedMedia
from api.metrics import Metrics
from api.options import PredictOptions
from api.pipeline.extract import (
    FaceSamples,
    FrameProgress,
    OnFrame,
    extract_faces,
    extract_image_faces,
)
from api.pipeline.faces import DetectorConfig, HaarFaceDetector
from api.pipeline.sniff import MediaKind, Sniffed, sniff_file
from api.pipeline.verdict import assess
from api.schemas import PredictResponse
from api.scoring import ScoreStream
from api.thresholds import ThresholdPolicy
from settings import Settings

# Still images OpenCV decodes (imread), detected from the bytes by api.pipeline.sniff.
IMAGE_FORMATS = {"JPEG", "PNG", "WebP", "BMP"}


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
        options: PredictOptions,
        *,
        log_fields: dict[str, Any] | None = None,
        observe: bool = True,
        on_progress: FrameProgress | None = None,
    ) -> PredictResponse:
        """Score the video or image at `path`. `log_fields` receives what the access log
        should say; `observe=False` keeps internal probes out of the metrics; `on_progress` is
        called from a worker thread after each sampled frame."""
        fields = log_fields if log_fields is not None else {}
        if options.operating_point and not self.settings.MODEL_VERSION_LABEL:
            # The answering version is known in advance: refuse an unknown name before decoding.
            self.thresholds.decide(self._configured_version(), options.operating_point)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        on_call = self._observe_score if observe else None
        async with ScoreStream(self.backend, self.settings.STREAM_BATCH, on_call) as stream:
            samples = await loop.run_in_executor(
                self.pool, self._extract, path, options, on_progress, stream.add_frame
            )
            fields.update(
                media=samples.media,
                sampled_frames=samples.sampled_frames,
                face_frames=samples.face_frames,
                decode_ms=round(samples.decode_seconds * 1000, 1),
                detect_ms=round(samples.detect_seconds * 1000, 1),
            )
            if observe:
                self._observe_extraction(samples)
            if samples.sampled_frames == 0:
                raise UnsupportedMedia(
                    "The upload opened as media but no video frame could be decoded from it "
                    "(audio-only, truncated or corrupt). Send a video with a picture track."
                )
            scored = await self._score(stream, fields, observe)
        if len(scored.scores) != sum(len(frame.faces) for frame in samples.frames):
            raise RuntimeError("scores and faces out of step: a bug, not a bad upload")
        decision = self.thresholds.decide(scored.version, options.operating_point)
        face_scores = answer.per_frame(samples, scored.scores)
        assessment = assess(samples, face_scores, decision.threshold, decision.band)
        result = answer.build(
            samples=samples,
            face_scores=face_scores,
            assessment=assessment,
            decision=decision,
            options=options,
            version=scored.version,
            latency_ms=round((time.perf_counter() - started) * 1000),
            context=await self._context(scored.version),
        )
        fields.update(
            model_version=result.version,
            score=None if result.score is None else round(result.score, 6),
            verdict=result.verdict,
        )
        if observe and result.score is not None:
            self.metrics.scores.labels(result.version).observe(result.score)
        return result

    def _extract(
        self,
        path: Path,
        options: PredictOptions,
        on_progress: FrameProgress | None,
        on_frame: OnFrame,
    ) -> FaceSamples:
        sniffed = sniff_file(path)
        if sniffed.kind is MediaKind.IMAGE and sniffed.format in IMAGE_FORMATS:
            return extract_image_faces(
                path,
                detector=self.detector,
                margin=self.settings.FACE_MARGIN,
                max_pixels=self.settings.MAX_VIDEO_PIXELS,
                on_frame=on_frame,
            )
        _require_video(sniffed)
        return extract_faces(
            path,
            target_fps=options.fps,
            max_frames=options.max_frames,
            detector=self.detector,
            margin=self.settings.FACE_MARGIN,
            max_pixels=self.settings.MAX_VIDEO_PIXELS,
            redetect_every=self.settings.REDETECT_EVERY,
            on_progress=on_progress,
            on_frame=on_frame,
        )

    async def _score(self, stream: ScoreStream, fields: dict[str, Any], observe: bool) -> Scored:
        if not stream.crops:  # nothing to score: still ask which version would have answered
            status = await self.backend.status()
            return Scored(np.zeros(0, np.float32), status.version or self._configured_version())
        started = time.perf_counter()
        try:
            return await stream.result()
        except BackendError as exc:
            if observe:
                self.metrics.backend_errors.labels(exc.code).inc()
            raise
        finally:
            # score_ms: time in backend calls (mostly while the video was still being read);
            # score_wait_ms: what the request waited for scores after the last frame.
            fields["score_ms"] = round(stream.seconds * 1000, 1)
            fields["score_wait_ms"] = round((time.perf_counter() - started) * 1000, 1)

    def _observe_score(self, seconds: float) -> None:
        self.metrics.stage_seconds.labels("score").observe(seconds)

    def _configured_version(self) -> str:
        return self.settings.MODEL_VERSION_LABEL or str(self.settings.MODEL_VERSION)

    async def _context(self, version: str) -> dict[str, Any]:
        model_dir = self.settings.MODEL_BASE_PATH / self.settings.MODEL_NAME / version
        settings = self.settings
        return {
            "model": settings.MODEL_NAME,
            "backend": self.backend.name,
            "runtime": self.backend.runtime,
            # Hashing ~20 MB once per version: off the loop, then cached.
            "digest": await asyncio.to_thread(model_digest, model_dir),
            "settings": {
                "detector": {
                    "cascade": "haarcascade_frontalface_default",
                    "max_side": settings.DETECT_MAX_SIDE,
                    "min_face_px": settings.MIN_FACE_PX,
                    "redetect_every": settings.REDETECT_EVERY,
                },
                "face_margin": settings.FACE_MARGIN,
                "crop_size": DEFAULT_CROP_SIZE,
                "threshold_setting": settings.THRESHOLD,
            },
        }

    def _observe_extraction(self, samples: FaceSamples) -> None:
        self.metrics.stage_seconds.labels("decode").observe(samples.decode_seconds)
        self.metrics.stage_seconds.labels("detect").observe(samples.detect_seconds)
        self.metrics.frames.observe(samples.sampled_frames)
        self.metrics.faces.observe(samples.face_frames)


def _require_video(sniffed: Sniffed) -> None:
    if sniffed.kind is MediaKind.VIDEO:
        return
    advice = {
        MediaKind.IMAGE: f"a {sniffed.format} image, a format this service does not read",
        MediaKind.AUDIO: f"{sniffed.format} audio without a picture",
        MediaKind.DOCUMENT: f"a {sniffed.format} file, not a video",
        MediaKind.TEXT: f"{sniffed.format}, not a video",
        MediaKind.UNKNOWN: "not in a recognised video container",
    }[sniffed.kind]
    raise UnsupportedMedia(
        f"The upload is {advice}. Send a video (MP4/MOV, WebM/MKV, AVI, FLV, MPEG-TS/PS, WMV, "
        "Ogg) or an image (JPEG, PNG, WebP, BMP); the type is read from the file's bytes, not "
        "its name.",
        details={"detected": sniffed.format},
    )


async def build_service(
    settings: Settings, stack: AsyncExitStack, metrics: Metrics
) -> DetectionService:
    """The service and what it owns (worker pool, HTTP client, backend), each registered on
    `stack` to be closed in reverse order: one wiring for the server's lifespan and the CLI."""
    pool = ThreadPoolExecutor(settings.WORKER_THREADS, thread_name_prefix="pipeline")
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)
    client = await stack.enter_async_context(
        httpx.AsyncClient(timeout=httpx.Timeout(settings.REQUEST_TIMEOUT, connect=5.0))
    )
    backend = await backends.build(settings, client)
    stack.push_async_callback(backend.close)
    detector = HaarFaceDetector(
        DetectorConfig(max_side=settings.DETECT_MAX_SIDE, min_face=settings.MIN_FACE_PX)
    )
    return DetectionService(settings, backend, detector, pool, metrics)
