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
from api.provenance import C2paReport, ProvenanceReport
from api.provenance.sourcetypes import is_ai_edited, is_ai_generated
from api.schemas import (
    ActionResult,
    C2paResult,
    Coverage,
    Decision,
    FaceResult,
    FrameResult,
    FrameSample,
    IngredientsResult,
    Meta,
    PredictResponse,
    ProvenanceErrorResult,
    ProvenanceResult,
    Reason,
    Reproducibility,
    SignerResult,
    TrackResult,
    ValidationErrorResult,
    WatermarkResult,
    XmpResult,
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
    provenance: ProvenanceReport,
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
            rule=assessment.rule,
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
        provenance=provenance_result(provenance),
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


def provenance_result(report: ProvenanceReport) -> ProvenanceResult:
    c2pa, xmp, error = report.c2pa, report.xmp, report.error
    return ProvenanceResult(
        summary=report.summary,
        message=report.message,
        c2pa=None
        if c2pa is None
        else C2paResult(
            validation=c2pa.validation,
            validation_errors=[
                ValidationErrorResult(code=code, explanation=explanation)
                for code, explanation in c2pa.validation_errors
            ],
            trusted=c2pa.trusted,
            claim_generator=c2pa.claim_generator,
            title=c2pa.title,
            signer=SignerResult(issuer=c2pa.signer.issuer, common_name=c2pa.signer.common_name),
            signed_at=c2pa.signed_at,
            actions=[
                ActionResult(
                    action=a.action,
                    digital_source_type=a.digital_source_type,
                    software_agent=a.software_agent,
                )
                for a in c2pa.actions
            ],
            ingredients=IngredientsResult(count=c2pa.ingredients, ai_generated=c2pa.ai_ingredient),
        ),
        xmp=None if xmp is None else XmpResult(digital_source_types=xmp.digital_source_types),
        watermarks=[WatermarkResult(kind=w.kind, payload=w.payload) for w in report.watermarks],
        error=None
        if error is None
        else ProvenanceErrorResult(code=error.code, message=error.message),
        seconds=report.seconds,
    )


def declared_by(report: ProvenanceReport) -> str:
    """Where a declaration was read, for the reasons' messages (in api.provenance's order)."""
    c2pa = report.c2pa
    if c2pa is not None and (report.summary == "edited_after_signing" or _declares_ai(c2pa)):
        signer = c2pa.signer.common_name or c2pa.signer.issuer or "an unnamed signer"
        trust = "a trusted signer" if c2pa.trusted else "not a trusted signer"
        return f"its C2PA manifest (signed by {signer}, {trust})"
    if report.xmp is not None:
        return "its XMP metadata (unsigned: anyone can write it)"
    if report.watermarks:
        return f"an invisible watermark ({report.watermarks[0].kind})"
    return "its metadata"


def _declares_ai(c2pa: C2paReport) -> bool:
    types = [a.digital_source_type for a in c2pa.actions]
    return c2pa.ai_ingredient or any(is_ai_generated(t) or is_ai_edited(t) for t in types)


def _jpeg(crop: np.ndarray) -> str:
    data = encode_crop(crop, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
    return base64.b64encode(data).decode("ascii")
