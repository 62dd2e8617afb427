"""Assemble the JSON answer from the samples, the scores and the decision."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from api import __version__
from api.backends.base import BackendName
from api.contract import encode_crop
from api.options import PredictOptions
from api.pipeline.aggregate import detect_rate, label_for, video_score
from api.pipeline.extract import FaceSamples
from api.pipeline.verdict import Assessment
from api.schemas import (
    Coverage,
    Decision,
    FaceResult,
    FrameResult,
    FrameSample,
    Meta,
    PredictResponse,
    Reason,
    Reproducibility,
    TrackResult,
)
from api.thresholds import ThresholdChoice

CROP_JPEG_QUALITY = 85


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    cascade: str  # the OpenCV cascade file's name, without .xml
    max_side: int
    min_face_px: int
    redetect_every: int


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What shaped an answer besides the request's own options: the model and the server's
    settings, reported under `reproducibility`."""

    model: str
    backend: BackendName
    runtime: str
    digest: str | None  # None when the version is not on this machine
    detector: DetectorSettings
    face_margin: float
    crop_size: int
    threshold_setting: float | None


def build(
    *,
    samples: FaceSamples,
    face_scores: list[list[float]],
    assessment: Assessment,
    decision: ThresholdChoice,
    options: PredictOptions,
    version: str,
    latency_ms: int,
    context: AnswerContext,
) -> PredictResponse:
    """`face_scores[i][j]` is the score of face j of sampled frame i."""
    largest = [scores[0] for scores in face_scores if scores]
    score = video_score(np.array(largest)) if largest else None
    tracks_of = {m: t.track.id for t in assessment.tracks for m in t.track.members}
    return PredictResponse(
        score=score,
        label=label_for(score, decision.threshold) if score is not None else None,
        frame_samples=[
            FrameSample(t=t, score=s) for t, s in zip(samples.times, largest, strict=True)
        ],
        version=version,
        latency_ms=latency_ms,
        meta=Meta(
            src_fps=samples.info.src_fps,
            total_frames=samples.info.total_frames,
            used_step=samples.step,
            face_frames=samples.face_frames,
            face_detect_rate=detect_rate(samples.face_frames, samples.sampled_frames),
            sampled_frames=samples.sampled_frames,
            target_fps=options.fps,
            max_frames=options.max_frames,
            width=samples.info.width,
            height=samples.info.height,
        ),
        model=context.model,
        backend=context.backend,
        media="image" if samples.media == "image" else "video",
        threshold=decision.threshold,
        threshold_source=decision.source,
        verdict=assessment.verdict,
        decision=Decision(
            score=assessment.decision_score,
            track=assessment.deciding_track,
            threshold=decision.threshold,
            band=decision.band,
            operating_point=decision.operating_point,
        ),
        reasons=[Reason(code=r.code, message=r.message) for r in assessment.reasons],
        coverage=Coverage(
            sampled_frames=samples.sampled_frames,
            face_frames=samples.face_frames,
            faces=sum(len(f.faces) for f in samples.frames),
            tracks=len(assessment.tracks),
            smallest_face_px=assessment.smallest_face_px,
            median_face_px=assessment.median_face_px,
        ),
        tracks=[
            TrackResult(
                id=t.track.id,
                score=t.score,
                frames=len(t.scores),
                start=t.times[0],
                end=t.times[-1],
            )
            for t in assessment.tracks
        ],
        frames=[
            FrameResult(
                t=frame.t,
                faces=[
                    FaceResult(
                        box=face.box,
                        score=face_scores[i][j],
                        track=tracks_of[(i, j)],
                        crop=_jpeg(face.crop) if options.include_crops else None,
                    )
                    for j, face in enumerate(frame.faces)
                ],
            )
            for i, frame in enumerate(samples.frames)
        ],
        reproducibility=_reproducibility(context, options, version),
    )


def _reproducibility(
    context: AnswerContext, options: PredictOptions, version: str
) -> Reproducibility:
    return Reproducibility(
        model=context.model,
        model_version=version,
        model_digest=context.digest,
        gateway_version=__version__,
        # The order is part of the answer clients may have recorded: keep it.
        settings={
            "fps": options.fps,
            "max_frames": options.max_frames,
            "operating_point": options.operating_point,
            "runtime": context.runtime,
            "detector": asdict(context.detector),
            "face_margin": context.face_margin,
            "crop_size": context.crop_size,
            "threshold_setting": context.threshold_setting,
        },
    )


def _jpeg(crop: np.ndarray) -> str:
    data = encode_crop(crop, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
    return base64.b64encode(data).decode("ascii")
