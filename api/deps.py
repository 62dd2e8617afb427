"""Request dependencies, all of them: the long-lived services built by the lifespan,
authentication, the options that shape an answer, the streamed upload, and jobs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect

from api.callbacks import check_callback_url
from api.errors import InvalidRequest, Unauthorized
from api.jobs import JobBackend, JobRecord
from api.options import PredictOptions
from api.service import DetectionService
from api.uploads import Upload, receive_upload
from settings import MAX_FPS, MIN_FPS, Settings

# The multipart field that carries the video or image, on /predict and /jobs.
FIELD = "file"


# --- the lifespan's services -----------------------------------------------------------------
def get_service(request: Request) -> DetectionService:
    service: DetectionService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_jobs(request: Request) -> JobBackend:
    jobs: JobBackend = request.app.state.jobs
    return jobs


Service = Annotated[DetectionService, Depends(get_service)]
Jobs = Annotated[JobBackend, Depends(get_jobs)]


# --- authentication --------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="JWT_SECRET or one of API_KEYS")


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """When REQUIRE_AUTH is on, demand `Authorization: Bearer <JWT_SECRET or one of API_KEYS>`.

    Returns who the caller is, for job ownership: a digest of the configured token that
    matched ("" without auth). HTTPBearer has already parsed the header (scheme in any case,
    the token stripped, so `bearer  <key>` is accepted); deriving the owner from the matched
    token rather than the raw header makes every spelling that authenticates see the same jobs.
    """
    if not settings.REQUIRE_AUTH:
        return ""
    if credentials is None:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    given = credentials.credentials.encode()
    # Constant time, and every key is compared, so timing reveals neither how much of a guess
    # was right nor which key matched.
    matched = b""
    for token in settings.bearer_tokens:
        equal = hmac.compare_digest(given, token)
        matched = token if equal else matched
    if not matched:
        raise Unauthorized("Invalid bearer token.")
    return hashlib.sha256(matched).hexdigest()


Authenticated = Depends(require_token)
# The same dependency (FastAPI runs it once per request): who may see a job is whoever
# authenticates with the token that created it.
Owner = Annotated[str, Depends(require_token)]


async def get_owned_job(job_id: str, jobs: Jobs, owner: Owner) -> JobRecord:
    """The job in the path, if the caller may see it (JobNotFound otherwise).

    A dependency rather than a call in the handler, so that the event stream refuses with 404
    (or 503 when the job store is unreachable) before its 200 and the first event are sent."""
    return await jobs.find(job_id, owner)


OwnedJob = Annotated[JobRecord, Depends(get_owned_job)]


# --- what /predict and /jobs share -----------------------------------------------------------
def predict_options(
    service: Service,
    fps: Annotated[
        float | None,
        # At least one frame per 100 s: below that a long video is a handful of frames, and
        # a tiny fps only makes the decoder step through it for nothing.
        Query(ge=MIN_FPS, le=MAX_FPS, description="Frames sampled per second (DEFAULT_FPS)"),
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
    if operating_point is not None and not settings.MODEL_VERSION_LABEL:
        # The answering version is known in advance, so an unknown name is refused before the
        # upload is read, on /jobs as on /predict. With a label, the version it points to when
        # the job runs is not known yet: the prediction checks it then.
        service.thresholds.decide(str(settings.MODEL_VERSION), operating_point)
    return PredictOptions(
        fps=fps or settings.DEFAULT_FPS,
        max_frames=max_frames or settings.MAX_FRAMES,
        operating_point=operating_point,
        include_crops=include == "crops",
    )


Options = Annotated[PredictOptions, Depends(predict_options)]


async def callback_url(
    service: Service,
    callback_url: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="POSTed the job's JSON (signed with CALLBACK_SECRET) when it ends",
        ),
    ] = None,
) -> str | None:
    """The job's callback URL, checked (scheme, public address) before the upload is read."""
    if callback_url is None:
        return None
    return await check_callback_url(callback_url, service.settings)


CallbackUrl = Annotated[str | None, Depends(callback_url)]


def streamed_upload(
    request: Request, settings: Settings, directory: Path | None = None
) -> AbstractAsyncContextManager[Upload]:
    """The `file` field of the request body, streamed to a temp file (removed on exit) in
    `directory` (default UPLOAD_DIR).

    Called by the handler, not injected: it must be entered only after admission, so that a
    refused request costs no upload."""
    length = request.headers.get("content-length")
    return receive_upload(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=int(length) if length and length.isdigit() else None,
        field=FIELD,
        max_bytes=settings.MAX_UPLOAD_BYTES,
        directory=directory or settings.UPLOAD_DIR,
        idle_timeout=settings.UPLOAD_IDLE_TIMEOUT,
    )


T = TypeVar("T")


async def _until_disconnected(request: Request) -> None:
    """Return when the client goes away. Only once the body has been read: the messages
    that can come then are the disconnect (or, spuriously, empty body messages)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(
    request: Request, work: Callable[[threading.Event], Coroutine[Any, Any, T]]
) -> T:
    """Run `work(stop)`, watching for the client to go away meanwhile.

    When it does, `stop` is set (with `stop_when(stop)` as its progress callback the pipeline
    stops at its next frame), the work is waited for, so that the processing slot is held
    exactly as long as the work runs, and ClientDisconnect is raised: the middleware records
    499 (client closed request) instead of an answer nobody receives."""
    stop = threading.Event()
    task = asyncio.create_task(work(stop))
    watcher = asyncio.create_task(_until_disconnected(request))
    gone = False
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        gone = watcher.done() and not watcher.cancelled() and watcher.exception() is None
        if gone:
            stop.set()
        await asyncio.wait({task})
    finally:
        watcher.cancel()
        if not task.done():  # this request itself was cancelled (shutdown): so is the work
            stop.set()
            task.cancel()
    if gone:
        if not task.cancelled():
            task.exception()  # retrieved, and dropped: the disconnect is what happened
        raise ClientDisconnect
    return task.result()
