"""Jobs for long videos: POST /jobs queues one, GET /jobs/{id} reports on it, its /events
stream pushes every change (Server-Sent Events), DELETE /jobs/{id} cancels and forgets it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.deps import (
    Authenticated,
    CallbackUrl,
    Jobs,
    Options,
    OwnedJob,
    Owner,
    Service,
    streamed_upload,
)
from api.errors import (
    EmptyUpload,
    JobNotFound,
    JobQueueFull,
    JobsUnavailable,
    MissingUpload,
    Overloaded,
    Unauthorized,
    UploadTimeout,
    UploadTooLarge,
)
from api.jobs import JobBackend, JobRecord
from api.jobs.view import view
from api.middleware import context_of
from api.routes.openapi import UPLOAD_BODY, error_responses
from api.schemas import JobResponse

router = APIRouter(tags=["jobs"], dependencies=[Authenticated])

JOB_ERRORS = error_responses(Unauthorized, JobNotFound, JobsUnavailable)


async def _view(jobs: JobBackend, job: JobRecord) -> JobResponse:
    return view(job, await jobs.queue_position(job))


@router.post(
    "/jobs",
    status_code=202,
    response_model=JobResponse,
    responses=error_responses(
        Unauthorized,
        EmptyUpload,
        UploadTimeout,
        UploadTooLarge,
        MissingUpload,
        JobQueueFull,
        JobsUnavailable,
        Overloaded,
    ),
    openapi_extra=UPLOAD_BODY,
    summary="Queue a video; answers at once with the job (Location: /jobs/{id})",
)
async def create_job(
    request: Request,
    service: Service,
    jobs: Jobs,
    owner: Owner,
    options: Options,
    callback: CallbackUrl,
) -> JSONResponse:
    context = context_of(request.scope)
    # A full queue refuses before a byte of the upload is read; so do JOB_QUEUE_SIZE uploads
    # streaming at once, or MAX_CONCURRENT_UPLOADS of any kind. No processing slot: jobs run
    # JOB_WORKERS at a time, apart from /predict.
    async with jobs.reserve():
        with service.admission.receiving_upload():
            async with streamed_upload(request, service.settings, jobs.upload_dir) as upload:
                job = await jobs.submit(upload, options, owner=owner, callback_url=callback)
    if context:
        context.fields.update(upload_bytes=upload.size, job_id=job.id)
    body = await _view(jobs, job)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=202, headers={"Location": body.links["self"]}
    )


@router.get(
    "/jobs/{job_id}",
    name="get_job",
    response_model=JobResponse,
    responses=JOB_ERRORS,
    summary="A job's status, progress, and its answer or error once it has ended",
)
async def get_job(job: OwnedJob, jobs: Jobs) -> JobResponse:
    return await _view(jobs, job)


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    response_class=Response,
    responses=JOB_ERRORS,
    summary="Cancel a job that has not ended and forget it (its file is removed at once)",
)
async def delete_job(job: OwnedJob, jobs: Jobs) -> Response:
    await jobs.delete(job)
    return Response(status_code=204)


# FastAPI frames each event, sends a `: ping` comment after 15 s without one (so proxies keep
# a quiet stream open), sets Cache-Control: no-cache and X-Accel-Buffering: no, and cancels
# the generator when the client goes away.
@router.get(
    "/jobs/{job_id}/events",
    name="job_events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "One `status` event (data: the job, as GET /jobs/{id} gives it) "
            "per change; the stream ends after the event that says the job has ended."
        },
        **error_responses(Unauthorized, JobNotFound, JobsUnavailable, streaming=True),
    },
    summary="Progress pushed as Server-Sent Events",
)
async def job_events(job: OwnedJob, jobs: Jobs) -> AsyncIterator[ServerSentEvent]:
    async for state in jobs.changes(job):
        # The id is the record's revision, read with the data it names.
        revision, data = state.revision, await _view(jobs, state)
        yield ServerSentEvent(event="status", id=str(revision), data=data)
