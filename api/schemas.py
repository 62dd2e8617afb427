"""The JSON the gateway answers with. Keys of the original service keep their names and meaning."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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


class PredictResponse(BaseModel):
    score: float = Field(ge=0, le=1, description="Mean P(fake) over the frames with a face")
    label: Literal["fake", "real"] = Field(description="'fake' when score >= threshold")
    frame_samples: list[FrameSample] = Field(description="One entry per frame with a face")
    version: str = Field(description="Model version that produced the scores")
    latency_ms: int = Field(ge=0, description="Decode, detection and scoring time (not upload)")
    meta: Meta
    model: str = Field(description="Model name")
    backend: Literal["embedded", "tfserving"] = Field(description="Where the model ran")
    threshold: float = Field(ge=0, le=1, description="Decision threshold applied to score")
    threshold_source: str = Field(
        description="Where the threshold came from: 'THRESHOLD setting', 'model card v<N>' "
        "(chosen on validation) or 'default' (0.5)"
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
