"""One prediction, start to finish: the glue between the pipeline and a scoring backend."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import httpx

from api import answer, backends, provenance
from api.admission import Admission
from api.answer import AnswerContext, DetectorSettings
from api.backends import ScoringBackend
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
from api.pipeline.verdict import apply_provenance, assess
from api.provenance import ProvenanceError, ProvenanceReport
from api.record import OnRecord, PredictRecord
from api.schemas import PredictResponse
from api.scoring import FrameScores, ScoreStream
from api.thresholds import ThresholdPolicy
from settings import Settings

# Still images OpenCV decodes (imread), detected from the bytes by api.pipeline.sniff.
IMAGE_FORMATS = {"JPEG", "PNG", "WebP", "BMP"}
CASCADE = "haarcascade_frontalface_default"  # as reproducibility names it

logger = logging.getLogger(__name__)


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
        self.admission = Admission(
            self.settings.MAX_INFLIGHT_REQUESTS, self.settings.MAX_CONCURRENT_UPLOADS
        )
        self.metrics.watch_admission(
            lambda: self.admission.receiving, lambda: self.admission.processing
        )
        self.thresholds = ThresholdPolicy(
            self.settings.THRESHOLD, self.settings.MODEL_BASE_PATH / self.settings.MODEL_NAME
        )

    async def predict(
        self,
        path: Path,
        options: PredictOptions,
        *,
        on_record: OnRecord | None = None,
        observe: bool = True,
        on_progress: FrameProgress | None = None,
    ) -> PredictResponse:
        """Score the video or image at `path`. `on_record` is handed what the prediction did
        (for the log) once it ended, answered or failed; `observe=False` keeps internal probes
        out of the metrics; `on_progress` is called from a worker thread after each sampled
        frame."""
        record = PredictRecord()
        try:
            return await self._predict(path, options, record, on_progress)
        finally:
            if observe:
                self._observe(record)
            if on_record is not None:
                on_record(record)

    async def _predict(
        self,
        path: Path,
        options: PredictOptions,
        record: PredictRecord,
        on_progress: FrameProgress | None,
    ) -> PredictResponse:
        """Extract, score, answer; `record` takes each stage's figures as the stage ends."""
        if options.operating_point and not self.settings.MODEL_VERSION_LABEL:
            # The answering version is known in advance: refuse an unknown name before decoding.
            self.thresholds.decide(self._configured_version(), options.operating_point)
        started = time.perf_counter()
        sniffed = await asyncio.get_running_loop().run_in_executor(self.pool, sniff_file, path)
        _require_media(sniffed)  # refused before the backend is asked anything
        # Read alongside extraction, on the same pool; it never raises for a bad file.
        declared = self._inspect(path, sniffed)
        try:
            return await self._detect(
                path, sniffed, options, record, on_progress, declared, started
            )
        finally:
            # A failed prediction drops it: cancelled if it has not started, else waited for
            # (PROVENANCE_TIMEOUT bounds it), so that the caller does not remove the upload
            # while it is still being read.
            if not declared.cancel():
                await asyncio.wait({asyncio.wrap_future(declared)})

    async def _detect(
        self,
        path: Path,
        sniffed: Sniffed,
        options: PredictOptions,
        record: PredictRecord,
        on_progress: FrameProgress | None,
        declared: Future[ProvenanceReport],
        started: float,
    ) -> PredictResponse:
        crop_size = await self._crop_size(record)
        batch = self.settings.STREAM_BATCH
        # Every backend call's time goes to the record, cancelled calls' included.
        async with ScoreStream(self.backend, batch, record.score_calls.append) as stream:
            samples = await self._extract(
                path, sniffed, options, crop_size, on_progress, stream.add_frame
            )
            record.extracted(samples)
            if samples.sampled_frames == 0:
                raise UnsupportedMedia(
                    "The upload opened as media but no video frame could be decoded from it "
                    "(audio-only, truncated or corrupt). Send a video with a picture track."
                )
            scores = await self._score(stream, samples, record)
        report = await asyncio.wrap_future(declared)
        record.inspected(report)
        result = await self._answer(samples, scores, options, started, crop_size, report)
        record.answered(result.version, result.score, result.verdict)
        return result

    def _inspect(self, path: Path, sniffed: Sniffed) -> Future[ProvenanceReport]:
        kind: Literal["video", "image"] = "image" if _is_image(sniffed) else "video"
        inspect = partial(
            provenance.inspect, path, kind=kind, format=sniffed.format, settings=self.settings
        )
        return self.pool.submit(_never_fails, inspect)

    async def _crop_size(self, record: PredictRecord) -> int:
        """The crop size of the version that would answer now, asked before extraction.

        With a version label the version may change while the upload is read: the backend
        refuses (CropSizeChanged, 503) crops of another size than the scoring version takes,
        so an answer's crops, its scores and its `crop_size` always agree."""
        try:
            return await self.backend.crop_size()
        except BackendError as exc:
            record.backend_error = exc.code
            raise

    async def _extract(
        self,
        path: Path,
        sniffed: Sniffed,
        options: PredictOptions,
        crop_size: int,
        on_progress: FrameProgress | None,
        on_frame: OnFrame,
    ) -> FaceSamples:
        """Decode and find faces on a worker thread, each frame's crops streamed to scoring."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.pool,
            partial(self._extract_sync, path, sniffed, options, crop_size, on_progress, on_frame),
        )

    def _extract_sync(
        self,
        path: Path,
        sniffed: Sniffed,
        options: PredictOptions,
        crop_size: int,
        on_progress: FrameProgress | None,
        on_frame: OnFrame,
    ) -> FaceSamples:
        if _is_image(sniffed):
            return extract_image_faces(
                path,
                detector=self.detector,
                margin=self.settings.FACE_MARGIN,
                max_pixels=self.settings.MAX_VIDEO_PIXELS,
                crop_size=crop_size,
                on_frame=on_frame,
            )
        return extract_faces(
            path,
            target_fps=options.fps,
            max_frames=options.max_frames,
            detector=self.detector,
            margin=self.settings.FACE_MARGIN,
            max_pixels=self.settings.MAX_VIDEO_PIXELS,
            redetect_every=self.settings.REDETECT_EVERY,
            crop_size=crop_size,
            on_progress=on_progress,
            on_frame=on_frame,
        )

    async def _score(
        self, stream: ScoreStream, samples: FaceSamples, record: PredictRecord
    ) -> FrameScores:
        if not stream.crops:  # nothing to score: still ask which version would have answered
            status = await self.backend.status()
            version = status.version or self._configured_version()
            return FrameScores([[] for _ in samples.frames], version)
        started = time.perf_counter()
        try:
            scores = await stream.result()
        except BackendError as exc:
            record.backend_error = exc.code
            raise
        finally:
            record.score_seconds = stream.seconds
            record.score_wait_seconds = time.perf_counter() - started
        if [len(s) for s in scores.frames] != [len(f.faces) for f in samples.frames]:
            raise RuntimeError("scores and faces out of step: a bug, not a bad upload")
        return scores

    async def _answer(
        self,
        samples: FaceSamples,
        scores: FrameScores,
        options: PredictOptions,
        started: float,
        crop_size: int,
        report: ProvenanceReport,
    ) -> PredictResponse:
        decision = self.thresholds.decide(scores.version, options.operating_point)
        assessment = apply_provenance(
            assess(samples, scores.frames, decision.threshold, decision.band),
            report.summary,
            answer.declared_by(report),
        )
        # The latency leaves out the model digest (hashed once per version).
        latency_ms = round((time.perf_counter() - started) * 1000)
        return answer.build(
            samples=samples,
            face_scores=scores.frames,
            assessment=assessment,
            decision=decision,
            options=options,
            version=scores.version,
            latency_ms=latency_ms,
            context=await self._context(scores.version, crop_size),
            provenance=report,
        )

    def _observe(self, record: PredictRecord) -> None:
        """The metrics of one prediction, from what it recorded (also when it failed)."""
        stage = self.metrics.stage_seconds
        if record.media is not None:
            stage.labels("decode").observe(record.decode_seconds)
            stage.labels("detect").observe(record.detect_seconds)
            self.metrics.frames.observe(record.sampled_frames)
            self.metrics.faces.observe(record.face_frames)
        for seconds in record.score_calls:
            stage.labels("score").observe(seconds)
        if record.provenance is not None:
            stage.labels("provenance").observe(record.provenance_seconds)
            self.metrics.provenance.labels(record.provenance).inc()
        if record.provenance_error is not None:
            self.metrics.provenance_errors.labels(record.provenance_error).inc()
        if record.backend_error is not None:
            self.metrics.backend_errors.labels(record.backend_error).inc()
        if record.model_version is not None and record.score is not None:
            self.metrics.scores.labels(record.model_version).observe(record.score)

    def _configured_version(self) -> str:
        return self.settings.MODEL_VERSION_LABEL or str(self.settings.MODEL_VERSION)

    async def _context(self, version: str, crop_size: int) -> AnswerContext:
        settings = self.settings
        model_dir = settings.MODEL_BASE_PATH / settings.MODEL_NAME / version
        return AnswerContext(
            model=settings.MODEL_NAME,
            backend=self.backend.name,
            runtime=self.backend.runtime,
            # Hashing ~20 MB once per version: off the loop, then cached.
            digest=await asyncio.to_thread(model_digest, model_dir),
            detector=DetectorSettings(
                cascade=CASCADE,
                max_side=settings.DETECT_MAX_SIDE,
                min_face_px=settings.MIN_FACE_PX,
                redetect_every=settings.REDETECT_EVERY,
            ),
            face_margin=settings.FACE_MARGIN,
            crop_size=crop_size,
            threshold_setting=settings.THRESHOLD,
        )


def _never_fails(inspect: Callable[[], ProvenanceReport]) -> ProvenanceReport:
    """provenance.inspect promises not to raise for bad input; should a bug make it raise, the
    detector's answer still goes out, saying that provenance was not read."""
    started = time.perf_counter()
    try:
        return inspect()
    except Exception:
        logger.exception("provenance.inspect raised")
        return ProvenanceReport(
            summary="no_provenance",
            message="The file's provenance could not be read (an internal error, logged); the "
            "verdict is the detector's alone.",
            c2pa=None,
            xmp=None,
            watermarks=[],
            error=ProvenanceError("internal_error", "provenance.inspect failed; see the log"),
            seconds=time.perf_counter() - started,
        )


def _is_image(sniffed: Sniffed) -> bool:
    return sniffed.kind is MediaKind.IMAGE and sniffed.format in IMAGE_FORMATS


def _require_media(sniffed: Sniffed) -> None:
    if sniffed.kind is MediaKind.VIDEO or _is_image(sniffed):
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
