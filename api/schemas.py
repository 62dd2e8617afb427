"""The JSON the gateway answers with. Keys of the original service keep their names and meaning."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.pipeline.verdict import DecisionRule, ProvenanceSummary, ReasonCode


class FrameSample(BaseModel):
    t: float = Field(description="Presentation time of the frame in seconds, from the decoder")
    score: float = Field(ge=0, le=1, description="P(fake) of the face crop in this frame")


class Meta(BaseModel):
    src_fps: float = Field(description="Frame rate the container declares (0 when none)")
    total_frames: int = Field(description="Frame count the container declares (0 when unknown)")
    used_step: int = Field(ge=1, description="Every used_step-th frame was sampled")
    face_frames: int = Field(ge=0, description="Sampled frames in which a face was found")
    face_detect_rate: float = Field(ge=0, le=1, description="face_frames / sampled_frames")
    sampled_frames: int = Field(ge=0, description="Frames decoded and searched for a face")
    target_fps: float = Field(
        gt=0, description="Sampling rate asked for (query fps or DEFAULT_FPS)"
    )
    max_frames: int = Field(ge=1, description="Cap on sampled frames for this request")
    width: int = Field(ge=0, description="Frame width in pixels")
    height: int = Field(ge=0, description="Frame height in pixels")


class FaceResult(BaseModel):
    box: tuple[int, int, int, int] = Field(description="x, y, width, height in source pixels")
    score: float = Field(ge=0, le=1, description="P(fake) of this face's crop")
    track: int = Field(description="Id of the track (person) this face belongs to")
    crop: str | None = Field(
        None,
        description="The scored crop (the model's crop size), base64 JPEG (?include=crops)",
    )


class FrameResult(BaseModel):
    t: float = Field(description="Exact presentation time of the sampled frame, in seconds")
    faces: list[FaceResult] = Field(description="Every face found, largest first; may be empty")


class TrackResult(BaseModel):
    id: int
    score: float = Field(ge=0, le=1, description="Mean P(fake) of the track's faces")
    frames: int = Field(ge=1, description="Sampled frames in which this face was seen")
    start: float = Field(description="First time the face was seen (s)")
    end: float = Field(description="Last time the face was seen (s)")


class Reason(BaseModel):
    code: ReasonCode
    message: str


class Decision(BaseModel):
    rule: DecisionRule = Field(
        "most_suspicious_track",
        description="'most_suspicious_track' (the detector decided) or 'provenance' (the file "
        "declares itself AI-generated; score and track are still the detector's)",
    )
    score: float | None = Field(description="Score of the deciding track (None: nothing scored)")
    track: int | None = Field(description="Id of the deciding track")
    threshold: float = Field(ge=0, le=1)
    band: tuple[float, float] = Field(description="[low, high): scores too close to call")
    operating_point: str | None = Field(description="The operating point asked for, if any")


class Coverage(BaseModel):
    sampled_frames: int = Field(ge=0)
    face_frames: int = Field(ge=0, description="Sampled frames with at least one face")
    faces: int = Field(ge=0, description="Faces scored, over all frames")
    tracks: int = Field(ge=0)
    smallest_face_px: int | None = Field(description="Narrowest face, in source pixels")
    median_face_px: float | None


class Reproducibility(BaseModel):
    model: str
    model_version: str
    model_digest: str | None = Field(
        description="sha256 of the SavedModel's graph and variables and of its model.tflite if "
        "any (None when only TF Serving holds the version)"
    )
    gateway_version: str
    settings: dict[str, object] = Field(description="Every setting that shaped this answer")


# --- provenance: what the file says about its own origin (api/provenance) -------------------
class SignerResult(BaseModel):
    issuer: str | None = Field(description="Organisation of the signing certificate's issuer")
    common_name: str | None = Field(description="Common name of the signing certificate")


class ActionResult(BaseModel):
    action: str = Field(description="C2PA action, e.g. 'c2pa.created', 'c2pa.edited'")
    digital_source_type: str | None = Field(
        description="IPTC digital source type the action declares, e.g. "
        "'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia'"
    )
    software_agent: str | None = Field(description="The tool that performed the action")


class IngredientsResult(BaseModel):
    count: int = Field(ge=0, description="Ingredients (source files) the manifest lists")
    ai_generated: bool = Field(description="True when an ingredient is declared AI-generated")


class ValidationErrorResult(BaseModel):
    code: str = Field(description="C2PA validation status code, e.g 'assertion.dataHash.mismatch'")
    explanation: str


class C2paResult(BaseModel):
    validation: Literal["valid", "invalid"] = Field(
        description="'valid': signature and hashes check out; 'invalid': see validation_errors "
        "(a hash mismatch means the file was changed after signing)"
    )
    validation_errors: list[ValidationErrorResult]
    trusted: bool = Field(
        description="True when the signing certificate chains to one of C2PA_TRUST_ANCHORS "
        "(none by default: every signer is untrusted until anchors are configured)"
    )
    claim_generator: str | None = Field(description="The software that wrote the manifest")
    title: str | None = Field(description="The title the manifest gives the asset")
    signer: SignerResult
    signed_at: str | None = Field(description="Signing time (RFC 3339), when time-stamped")
    actions: list[ActionResult] = Field(description="What the manifest says was done, in order")
    ingredients: IngredientsResult


class XmpResult(BaseModel):
    digital_source_types: list[str] = Field(
        description="IPTC Iptc4xmpExt:DigitalSourceType values in the file's XMP (unsigned: "
        "anyone can write them, so they can only lower trust)"
    )


class WatermarkResult(BaseModel):
    kind: str = Field(description="Which watermark was found")
    payload: str = Field(description="What it carries")


class ProvenanceErrorResult(BaseModel):
    code: str = Field(description="Why provenance could not be read, e.g. a corrupt manifest")
    message: str


class ProvenanceResult(BaseModel):
    summary: ProvenanceSummary = Field(
        description="declared_ai_generated | declared_ai_edited | declared_captured (a trusted "
        "signer only) | edited_after_signing | no_provenance"
    )
    message: str = Field(description="What the summary means for you, in plain words")
    c2pa: C2paResult | None = Field(description="The active C2PA manifest (null: none found)")
    xmp: XmpResult | None = Field(description="AI declarations in XMP metadata (null: none)")
    watermarks: list[WatermarkResult] = Field(
        description="Invisible watermarks found; an empty list proves nothing (re-encoding "
        "erases them)"
    )
    error: ProvenanceErrorResult | None = Field(
        description="Why the provenance could not be read (detection still answered)"
    )
    seconds: float = Field(ge=0, description="Time spent reading the provenance")


class PredictResponse(BaseModel):
    # --- the original service's answer ---------------------------------------------------
    score: float | None = Field(
        ge=0, le=1, description="Mean P(fake) of the largest face per frame (None: no face)"
    )
    label: Literal["fake", "real"] | None = Field(
        description="'fake' when score >= threshold (None when nothing was scored)"
    )
    frame_samples: list[FrameSample] = Field(description="One entry per frame with a face")
    version: str = Field(description="Model version that produced the scores")
    latency_ms: int = Field(ge=0, description="Decode, detection and scoring time (not upload)")
    meta: Meta
    # --- added -------------------------------------------------------------------------------
    model: str = Field(description="Model name")
    backend: Literal["embedded", "tfserving"] = Field(description="Where the model ran")
    media: Literal["video", "image"]
    threshold: float = Field(ge=0, le=1, description="Decision threshold applied")
    threshold_source: str = Field(
        description="Where the threshold came from: 'THRESHOLD setting', 'model card v<N>' "
        "(chosen on validation), 'model card v<N>, operating point <name>' or 'default' (0.5)"
    )
    verdict: Literal["real", "fake", "uncertain"] = Field(
        description="The answer to rely on: the most suspicious track decides; 'uncertain' "
        "when a reason below makes the answer weak"
    )
    decision: Decision
    reasons: list[Reason] = Field(description="Why the answer is weak, if it is")
    coverage: Coverage
    tracks: list[TrackResult]
    frames: list[FrameResult] = Field(description="Every sampled frame, with or without faces")
    reproducibility: Reproducibility
    provenance: ProvenanceResult = Field(
        description="What the file declares about its origin (C2PA, XMP, watermarks); it can "
        "change `verdict`, never `score` or `label`"
    )


class HealthResponse(BaseModel):
    ok: bool = Field(description="True when the backend can score right now")
    backend: str
    model: str
    version: str
    detail: str


class ReadyResponse(BaseModel):
    ready: bool = Field(description="True when a known clip was just scored end to end")
    model: str
    version: str | None = Field(description="The model version that answered the probe")
    backend: str
    checks: dict[str, str] = Field(description="Each check: 'ok' or why it failed")


class LiveResponse(BaseModel):
    ok: Literal[True] = True


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong and what to do about it")
    code: str = Field(description="Stable machine-readable error code")
    details: dict[str, object] | None = None


# --- jobs (/jobs) ------------------------------------------------------------------------------
class JobProgress(BaseModel):
    frames: int = Field(ge=0, description="Frames sampled so far")
    expected_frames: int | None = Field(
        description="Frames that will be sampled, when the container says how many it has"
    )
    percent: float | None = Field(ge=0, le=100, description="frames / expected_frames, in %")


class JobError(ErrorResponse):
    # Without the key when empty, exactly as /predict answers the same error.
    details: dict[str, object] | None = Field(None, exclude_if=lambda value: value is None)


class JobCallback(BaseModel):
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending until the job has ended and the callback was answered with 2xx"
    )
    attempts: int = Field(ge=0, description="Deliveries tried so far")
    last_error: str | None = Field(None, description="Why the last delivery failed")
    # Only in the body POSTed to the callback_url: when it was sent (epoch seconds, signed).
    sent_at: int | None = Field(None, exclude_if=lambda value: value is None)


class JobResponse(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: JobProgress
    queue_position: int | None = Field(description="1 = next to start; only while queued")
    filename: str | None = Field(description="The uploaded file's name, as the client sent it")
    size_bytes: int
    fps: float
    max_frames: int
    operating_point: str | None
    include: Literal["crops"] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="When a finished job is forgotten")
    attempts: int = Field(
        ge=0, description="Runs started: more than 1 when a worker was lost and it was run again"
    )
    result: PredictResponse | None = Field(description="When done: the answer /predict gives")
    error: JobError | None = Field(description="When failed: the error /predict gives")
    error_status: int | None = Field(description="When failed: the status /predict would give")
    callback: JobCallback | None = Field(
        description="The callback_url delivery, when the job was created with one"
    )
    links: dict[str, str] = Field(description="'self' and 'events' (Server-Sent Events)")
