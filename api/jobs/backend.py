"""What the routes need of a job backend, whichever it is: the memory one (jobs in this
process) or the Redis one (jobs in Redis, run by `deepfake-worker` processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from typing import Protocol

from api.errors import JobQueueFull
from api.jobs.record import JobRecord
from api.options import PredictOptions
from api.pipeline.extract import FrameProgress
from api.uploads import Upload

QUEUE_FULL_RETRY_SECONDS = 5


def queue_full(size: int) -> JobQueueFull:
    return JobQueueFull(
        f"The job queue is full ({size} jobs waiting, JOB_QUEUE_SIZE); retry later.",
        retry_after=QUEUE_FULL_RETRY_SECONDS,
    )


def on_loop(loop: asyncio.AbstractEventLoop, advance: FrameProgress) -> FrameProgress:
    """A progress callback for the pipeline's thread that only hops `advance` to the loop."""

    def report(done: int, expected: int | None) -> None:
        with suppress(RuntimeError):  # the loop closed under a job stopped at shutdown
            loop.call_soon_threadsafe(advance, done, expected)

    return report


class QueuePlaces:
    """Queue places held by uploads still streaming: counted as waiting jobs, so that a full
    queue refuses a job before a byte of it is read (`JobBackend.reserve`)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.held = 0

    @asynccontextmanager
    async def hold(self, waiting: int) -> AsyncIterator[None]:
        """One place while the context runs; JobQueueFull when `waiting` jobs and the places
        already held fill the queue."""
        if waiting + self.held >= self.size:
            raise queue_full(self.size)
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1


class JobBackend(Protocol):
    # Where uploads for jobs are streamed to, so that submit only renames (same filesystem).
    upload_dir: Path | None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def reserve(self) -> AbstractAsyncContextManager[None]:
        """Hold a queue place while the upload streams: a full queue (or an unreachable job
        store) refuses a job before a byte of it is read."""
        ...

    async def submit(
        self, upload: Upload, options: PredictOptions, *, owner: str, callback_url: str | None
    ) -> JobRecord:
        """Take the upload's file over and queue a job for it. Call inside `receive_upload`."""
        ...

    async def find(self, job_id: str, owner: str) -> JobRecord:
        """The job, if `owner` may see it; JobNotFound otherwise."""
        ...

    async def queue_position(self, job: JobRecord) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        ...

    async def delete(self, job: JobRecord) -> None:
        """Cancel the job if it has not ended (its file is gone when this returns); forget it."""
        ...

    def changes(self, job: JobRecord) -> AsyncIterator[JobRecord]:
        """The job as it is now, then after every change, ending after it has ended."""
        ...

    async def check(self) -> str:
        """Readiness: "ok", or why jobs cannot be queued now."""
        ...
