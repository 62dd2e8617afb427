"""Jobs in this process's memory (JOBS_BACKEND=memory, the default): enough for one gateway.

With several replicas a client would have to come back to the replica that accepted its job,
and a restart forgets every job (their files are removed at shutdown): replicas use
JOBS_BACKEND=redis (api/jobs/redis.py) instead.

Every job is an asyncio task owned by the JobManager. Its video file is removed in that task's
`finally`, so it goes on every path: done, failed, cancelled and shutdown; expiry then only
forgets the record.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from api.callbacks import CallbackState, callback_client
from api.errors import GatewayError, JobNotFound
from api.jobs.backend import QueuePlaces, on_loop
from api.jobs.notify import notify, wants_callback
from api.jobs.record import JobRecord, JobStatus, failure
from api.metrics import Metrics
from api.options import PredictOptions
from api.pipeline.extract import FrameProgress, stop_when
from api.service import DetectionService
from api.uploads import Upload

log = logging.getLogger(__name__)

# Retry-After for a full queue: jobs are long, so asking again every second would only add load.


@dataclass(kw_only=True, eq=False)
class Job(JobRecord):
    path: Path
    stop: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    expires_mono: float = float("inf")  # monotonic

    def touch(self) -> None:
        """Record a change and wake everyone waiting for one."""
        self.revision += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, seen: int) -> None:
        """Return once `revision` differs from `seen`."""
        if self.revision == seen:
            await self._changed.wait()


def not_found(job_id: str, ttl: float) -> JobNotFound:
    return JobNotFound(
        f"No job '{job_id}': it never existed, was deleted, or its result expired "
        f"(results are kept {ttl:g} s after the job ends)."
    )


def _remove(path: Path) -> None:
    # Synchronous on purpose (as in api.uploads): an awaited unlink could be cancelled and leak.
    with suppress(FileNotFoundError):
        path.unlink()


class JobManager:
    def __init__(
        self,
        service: DetectionService,
        *,
        queue_size: int,
        workers: int,
        ttl: float,
        upload_dir: Path | None = None,
    ) -> None:
        self.service = service
        self.queue_size = queue_size
        self.ttl = ttl
        self.upload_dir = upload_dir
        self._jobs: dict[str, Job] = {}
        self._slots = asyncio.Semaphore(workers)
        self._places = QueuePlaces(queue_size)
        self._sweeper: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._callbacks = callback_client(service.settings)
        self.metrics: Metrics = service.metrics
        self.metrics.watch_job_queue(lambda: self.waiting)

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="jobs-sweeper")

    async def close(self) -> None:
        """Shutdown: cancel every job, wait for their cleanup, forget them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = [job.task for job in self._jobs.values() if job.task and not job.task.done()]
        for job in self._jobs.values():
            job.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for job in self._jobs.values():
            _remove(job.path)
        self._jobs.clear()
        for delivery in self._deliveries:
            delivery.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        await self._callbacks.aclose()

    async def check(self) -> str:
        return "ok"

    @property
    def waiting(self) -> int:
        return self._queued() + self._places.held

    def _queued(self) -> int:
        return sum(job.status is JobStatus.QUEUED for job in self._jobs.values())

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[None]:
        async with self._places.hold(self._queued()):
            yield

    async def submit(
        self,
        upload: Upload,
        options: PredictOptions,
        *,
        owner: str,
        callback_url: str | None = None,
    ) -> Job:
        job_id = secrets.token_urlsafe(16)
        path = upload.path.with_name(f"job-{job_id}.bin")
        # receive_upload deletes its file when its context exits; renaming the file (same
        # directory: no copy) makes it the job's, and the context then finds nothing to delete.
        upload.path.replace(path)
        job = Job(
            id=job_id,
            owner=owner,
            path=path,
            filename=upload.filename,
            size=upload.size,
            options=options,
        )
        if callback_url is not None:
            job.callback = CallbackState(url=callback_url).to_dict()
        self._jobs[job_id] = job
        job.task = asyncio.create_task(self._run(job), name=f"job-{job_id}")
        return job

    def get(self, job_id: str, owner: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner or job.expires_mono <= time.monotonic():
            raise not_found(job_id, self.ttl)
        return job

    async def find(self, job_id: str, owner: str) -> Job:
        return self.get(job_id, owner)

    async def queue_position(self, job: JobRecord) -> int | None:
        # No await inside: an event's id and data are read without a change in between.
        if job.status is not JobStatus.QUEUED:
            return None
        ahead = sum(
            other.status is JobStatus.QUEUED and other.created_at < job.created_at
            for other in self._jobs.values()
        )
        return ahead + 1

    async def delete(self, job: JobRecord) -> None:
        assert isinstance(job, Job)
        if job.task is not None and not job.task.done():
            job.stop.set()
            job.task.cancel()
            await asyncio.wait({job.task})
        self._jobs.pop(job.id, None)

    async def changes(self, job: JobRecord) -> AsyncIterator[JobRecord]:
        assert isinstance(job, Job)
        while True:
            seen = job.revision  # what the consumer is about to send
            yield job
            if job.finished:
                return
            await job.wait_change(seen)

    async def _run(self, job: Job) -> None:
        fields: dict[str, Any] = {}
        try:
            async with self._slots:
                job.status, job.started_at, job.attempts = JobStatus.RUNNING, time.time(), 1
                job.touch()
                job.result = await self.service.predict(
                    job.path,
                    job.options,
                    on_record=lambda record: fields.update(record.log_fields()),
                    on_progress=self._reporter(job, asyncio.get_running_loop()),
                )
                job.status = JobStatus.DONE
        except asyncio.CancelledError:
            job.status = JobStatus.CANCELLED
            raise
        except Exception as exc:
            if not isinstance(exc, GatewayError):
                log.exception("job %s failed", job.id)
            job.status = JobStatus.FAILED
            job.error, job.error_status = failure(exc)
        finally:
            job.stop.set()
            _remove(job.path)
            self._finish(job, fields)
            if wants_callback(job):
                self._deliver(job)

    def _deliver(self, job: Job) -> None:
        """The callback in a task of its own: a slow receiver holds no job slot."""

        async def save(_: JobRecord) -> None:
            job.touch()  # GET and the event stream show each attempt

        task = asyncio.create_task(
            notify(job, self.service.settings, self._callbacks, self.metrics, save),
            name=f"callback-{job.id}",
        )
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    def _finish(self, job: Job, fields: dict[str, Any]) -> None:
        job.finished_at = time.time()
        job.expires_at = job.finished_at + self.ttl
        job.expires_mono = time.monotonic() + self.ttl
        job.touch()
        self.metrics.job_finished(job.status.value, job.started_at, job.finished_at, job.attempts)
        line = {"event": "job", "job_id": job.id, "status": job.status.value, **fields}
        if job.error:
            line["code"] = job.error["code"]
        log.info(json.dumps(line, separators=(",", ":")))

    def _reporter(self, job: Job, loop: asyncio.AbstractEventLoop) -> FrameProgress:
        """The progress callback: runs on a pipeline thread, so it only hops to the loop."""

        return stop_when(job.stop, on_loop(loop, partial(_advance, job)))

    async def _sweep_forever(self) -> None:
        interval = min(max(self.ttl / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def sweep(self) -> None:
        """Forget the jobs whose results have expired."""
        now = time.monotonic()
        for job in [j for j in self._jobs.values() if j.expires_mono <= now]:
            _remove(job.path)  # removed when the job ended; this only makes sure
            del self._jobs[job.id]


def _advance(job: Job, done: int, expected: int | None) -> None:
    if job.status is not JobStatus.RUNNING:
        return  # a late report from a thread that has not yet seen the stop
    job.frames, job.expected_frames = done, expected
    job.touch()
