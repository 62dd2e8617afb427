"""Jobs for long videos: POST /jobs queues one, GET /jobs/{id} reports on it, its /events
stream pushes every change (Server-Sent Events), DELETE /jobs/{id} cancels and forgets it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.deps import Authenticated, Service
from api.jobs import Job, JobManager
from api.middleware import context_of
from api.routes.upload import UPLOAD_BODY, Options, streamed_upload
from api.schemas import ErrorResponse, PredictResponse

router = APIRouter(tags=["jobs"], dependencies=[Authenticated])

# A comment line this often keeps proxies from closing a quiet event stream.
KEEPALIVE_SECONDS = 15.0


class JobProgress(BaseModel):
    frames: int = Field(ge=0, description="Frames sampled so far")
    expected_frames: int | None = Field(
        description="Frames that will be sampled, when the container says how many it has"
    )
    percent: float | None = Field(ge=0, le=100, description="frames / expected_frames, in %")


class JobError(ErrorResponse):
    # Without the key when empty, exactly as /predict answers the same error.
    details: dict[str, object] | None = Field(None, exclude_if=lambda value: value is None)


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
    result: PredictResponse | None = Field(description="When done: the answer /predict gives")
    error: JobError | None = Field(description="When failed: the error /predict gives")
    error_status: int | None = Field(description="When failed: the status /predict would give")
    links: dict[str, str] = Field(description="'self' and 'events' (Server-Sent Events)")


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def view(request: Request, jobs: JobManager, job: Job) -> JobResponse:
    return JobResponse(
        id=job.id,
        status=job.status.value,
        progress=JobProgress(
            frames=job.frames, expected_frames=job.expected_frames, percent=job.percent
        ),
        queue_position=jobs.queue_position(job),
        filename=job.filename,
        size_bytes=job.size,
        fps=job.options.fps,
        max_frames=job.options.max_frames,
        operating_point=job.options.operating_point,
        include="crops" if job.options.include_crops else None,
        created_at=datetime.fromtimestamp(job.created_at, UTC),
        started_at=_when(job.started_at),
        finished_at=_when(job.finished_at),
        expires_at=_when(job.expires_at),
        result=job.result,
        error=JobError.model_validate(job.error) if job.error else None,
        error_status=job.error_status,
        links={
            "self": request.app.url_path_for("get_job", job_id=job.id),
            "events": request.app.url_path_for("job_events", job_id=job.id),
        },
    )


def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


def get_owner(request: Request) -> str:
    """Who may see a job: with auth on, whoever sends the token that created it."""
    if not request.app.state.settings.REQUIRE_AUTH:
        return ""
    token = request.headers.get("authorization", "").encode()
    return hashlib.sha256(token).hexdigest()


Jobs = Annotated[JobManager, Depends(get_jobs)]
Owner = Annotated[str, Depends(get_owner)]


def _errors(codes: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse, "description": text} for code, text in codes.items()}


UNAUTHORIZED = {401: "Missing or wrong bearer token (when REQUIRE_AUTH is on)"}
NOT_FOUND = {404: "No such job: unknown, deleted, expired, or created with another token"}


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobResponse,
    responses=_errors(
        {
            **UNAUTHORIZED,
            400: "Empty file or malformed multipart body",
            413: "Upload larger than MAX_UPLOAD_BYTES",
            422: "Invalid parameters or missing file field",
            503: "The job queue (JOB_QUEUE_SIZE) or the gateway (MAX_INFLIGHT_REQUESTS) is full",
        }
    ),
    openapi_extra=UPLOAD_BODY,
    summary="Queue a video; answers at once with the job (Location: /jobs/{id})",
)
async def create_job(
    request: Request, service: Service, jobs: Jobs, owner: Owner, options: Options
) -> JSONResponse:
    context = context_of(request.scope)
    # A full queue or a busy gateway refuses before reading a byte of the upload.
    with jobs.reserve(), service.admission.admit():
        async with streamed_upload(request, service.settings) as upload:
            job = jobs.submit(upload, options, owner=owner)
    if context:
        context.fields.update(upload_bytes=upload.size, job_id=job.id)
    body = view(request, jobs, job)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Location": body.links["self"]}
    )


@router.get(
    "/jobs/{job_id}",
    name="get_job",
    response_model=JobResponse,
    responses=_errors({**UNAUTHORIZED, **NOT_FOUND}),
    summary="A job's status, progress, and its answer or error once it has ended",
)
async def get_job(request: Request, job_id: str, jobs: Jobs, owner: Owner) -> JobResponse:
    return view(request, jobs, jobs.get(job_id, owner))


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    response_class=Response,
    responses=_errors({**UNAUTHORIZED, **NOT_FOUND}),
    summary="Cancel a job that has not ended and forget it (its file is removed at once)",
)
async def delete_job(job_id: str, jobs: Jobs, owner: Owner) -> Response:
    await jobs.delete(jobs.get(job_id, owner))
    return Response(status_code=204)


@router.get(
    "/jobs/{job_id}/events",
    name="job_events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "One `status` event (data: the job, as GET /jobs/{id} gives it) "
            "per change; the stream ends after the event that says the job has ended.",
        },
        **_errors({**UNAUTHORIZED, **NOT_FOUND}),
    },
    summary="Progress pushed as Server-Sent Events",
)
async def job_events(request: Request, job_id: str, jobs: Jobs, owner: Owner) -> StreamingResponse:
    job = jobs.get(job_id, owner)
    return StreamingResponse(
        _events(request, jobs, job),
        media_type="text/event-stream",
        # Proxies (nginx) must pass each event on as it comes, not buffer the stream.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(request: Request, jobs: JobManager, job: Job) -> AsyncIterator[str]:
    seen = -1
    while True:
        if job.revision == seen:
            yield ": keep-alive\n\n"
        else:
            seen = job.revision
            data = view(request, jobs, job).model_dump_json()
            yield f"event: status\nid: {seen}\ndata: {data}\n\n"
            if job.finished:
                return
        with suppress(TimeoutError):
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                await job.wait_change(seen)
