"""A job record as the API shows it (GET /jobs/{id}, its events, and callbacks): one function,
so that a callback's body is exactly what a GET would have answered."""

from __future__ import annotations

from datetime import UTC, datetime

from api.jobs.record import JobRecord
from api.schemas import JobCallback, JobError, JobProgress, JobResponse


def job_links(job_id: str) -> dict[str, str]:
    # Spelled out rather than asked of the router: workers build the same JSON without an app.
    return {"self": f"/jobs/{job_id}", "events": f"/jobs/{job_id}/events"}


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def view(job: JobRecord, queue_position: int | None) -> JobResponse:
    callback = job.callback
    return JobResponse(
        id=job.id,
        status=job.status.value,
        progress=JobProgress(
            frames=job.frames, expected_frames=job.expected_frames, percent=job.percent
        ),
        queue_position=queue_position,
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
        attempts=job.attempts,
        result=job.result,
        error=JobError.model_validate(job.error) if job.error else None,
        error_status=job.error_status,
        callback=JobCallback.model_validate(callback) if callback is not None else None,
        links=job_links(job.id),
    )
