"""Request dependencies, all of them: the long-lived services built by the lifespan,
authentication, the options that shape an answer, the streamed upload, and jobs."""

from __future__ import annotations

import hashlib
import hmac
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import InvalidRequest, Unauthorized
from api.jobs import Job, JobManager
from api.options import PredictOptions
from api.service import DetectionService
from api.uploads import Upload, receive_upload
from settings import Settings

# The multipart field that carries the video or image, on /predict and /jobs.
FIELD = "file"


# --- the lifespan's services -----------------------------------------------------------------
def get_service(request: Request) -> DetectionService:
    service: DetectionService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


Service = Annotated[DetectionService, Depends(get_service)]
Jobs = Annotated[JobManager, Depends(get_jobs)]


# --- authentication --------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="JWT_SECRET or one of API_KEYS")


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """When REQUIRE_AUTH is on, demand `Authorization: Bearer <JWT_SECRET or one of API_KEYS>`."""
    if not settings.REQUIRE_AUTH:
        return
    if credentials is None:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    given = credentials.credentials.encode()
    # Constant time, and every key is compared, so timing reveals neither how much of a guess
    # was right nor which key matched.
    matched = False
    for token in settings.bearer_tokens:
        matched |= hmac.compare_digest(given, token)
    if not matched:
        raise Unauthorized("Invalid bearer token.")


Authenticated = Depends(require_token)


def get_owner(request: Request) -> str:
    """Who may see a job: with auth on, whoever sends the token that created it."""
    if not request.app.state.settings.REQUIRE_AUTH:
        return ""
    token = request.headers.get("authorization", "").encode()
    return hashlib.sha256(token).hexdigest()


Owner = Annotated[str, Depends(get_owner)]


def get_owned_job(job_id: str, jobs: Jobs, owner: Owner) -> Job:
    """The job in the path, if the caller may see it (JobNotFound otherwise).

    A dependency rather than a call in the handler, so that the event stream refuses with 404
    before its 200 and the first event are sent."""
    return jobs.get(job_id, owner)


OwnedJob = Annotated[Job, Depends(get_owned_job)]


# --- what /predict and /jobs share -----------------------------------------------------------
def predict_options(
    service: Service,
    fps: Annotated[
        float | None, Query(gt=0, le=120, description="Frames sampled per second (DEFAULT_FPS)")
    ] = None,
    max_frames: Annotated[
        int | None, Query(ge=1, description="Cap on sampled frames, at most MAX_FRAMES")
    ] = None,
    operating_point: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_.-]{1,40}$",
            description="A threshold from the model card by name, e.g. fpr1 (1% false positives "
            "on validation)",
        ),
    ] = None,
    include: Annotated[
        Literal["crops"] | None,
        Query(description="'crops' adds each scored face crop (the model's size) as a base64 JPEG"),
    ] = None,
) -> PredictOptions:
    settings = service.settings
    if max_frames is not None and max_frames > settings.MAX_FRAMES:
        raise InvalidRequest(
            f"max_frames={max_frames} is above this server's MAX_FRAMES={settings.MAX_FRAMES}."
        )
    return PredictOptions(
        fps=fps or settings.DEFAULT_FPS,
        max_frames=max_frames or settings.MAX_FRAMES,
        operating_point=operating_point,
        include_crops=include == "crops",
    )


Options = Annotated[PredictOptions, Depends(predict_options)]


def streamed_upload(request: Request, settings: Settings) -> AbstractAsyncContextManager[Upload]:
    """The `file` field of the request body, streamed to a temp file (removed on exit).

    Called by the handler, not injected: it must be entered only after admission, so that a
    refused request costs no upload."""
    length = request.headers.get("content-length")
    return receive_upload(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        field=FIELD,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        directory=settings.UPLOAD_DIR,
    )
