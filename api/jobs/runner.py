"""One attempt at a job, in a `deepfake-worker` (JOBS_BACKEND=redis): the record says running,
the pipeline runs with its progress written to the record (throttled) and published, SAQ's
heartbeat is kept from the event loop, and a DELETE on any gateway stops the pipeline at its
next frame. The video file is removed once the job has ended, on every path."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.errors import GatewayError
from api.jobs import store
from api.jobs.backend import on_loop
from api.jobs.record import JobRecord, JobStatus, failure
from api.jobs.storage import JobStorage
from api.metrics import Metrics
from api.pipeline.extract import FrameProgress, stop_when
from api.schemas import PredictResponse
from api.service import DetectionService
from settings import Settings

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.25  # at most this often is progress written and published
CANCEL_POLL_SECONDS = 1.0  # the cancel watcher re-reads the record this often when nothing comes

Touch = Callable[[], Awaitable[None]]


@dataclass
class Outcome:
    status: JobStatus
    result: PredictResponse | None = None
    error: dict[str, Any] | None = None
    error_status: int | None = None


def lost_worker_error(times: int, max_attempts: int) -> dict[str, Any]:
    return {
        "error": f"A worker stopped {times} time{'s' if times != 1 else ''} while running this "
        f"job; it is not tried again (JOB_MAX_ATTEMPTS={max_attempts}). A video that makes "
        "workers run out of memory does this; so do workers restarted mid-job.",
        "code": "worker_lost",
    }


class Runner:
    def __init__(
        self,
        settings: Settings,
        service: DetectionService,
        client: Redis,
        storage: JobStorage,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.service = service
        self.client = client
        self.records = store.Records(client, settings.JOB_TTL_SECONDS)
        self.storage = storage
        self.metrics = metrics
        self.heartbeat = max(0.5, settings.JOB_VISIBILITY_TIMEOUT / 3)

    async def run(self, job_id: str, attempt: int, touch: Touch) -> JobRecord | None:
        """Attempt number `attempt` (SAQ counts them); the record as it ended, None when the
        job was deleted. Raises (and keeps the file) when the job must be tried again."""
        record = await self.records.get(job_id)
        if record is None or record.finished:  # deleted (or a duplicate of an ended run)
            self.storage.remove(job_id)
            return None
        max_attempts = self.settings.JOB_MAX_ATTEMPTS
        if attempt > max_attempts:
            lost = attempt - 1
            record.attempts = lost
            error = lost_worker_error(lost, max_attempts)
            return await self._end(record, Outcome(JobStatus.FAILED, error=error, error_status=500))
        record.status, record.started_at, record.attempts = JobStatus.RUNNING, time.time(), attempt
        record.frames, record.expected_frames = 0, None
        if not await self.records.save(record):
            self.storage.remove(job_id)
            return None
        fields: dict[str, Any] = {}  # what the prediction did, for the job's log line
        try:
            outcome = await self._attempt(record, touch, fields)
        except asyncio.CancelledError:
            await self._interrupted(record)
            raise
        return await self._end(record, outcome, fields)

    async def _attempt(self, record: JobRecord, touch: Touch, fields: dict[str, Any]) -> Outcome:
        stop = threading.Event()
        progress = _Progress(record, self.records, stop)
        loop = asyncio.get_running_loop()
        async with (
            _beating(touch, self.heartbeat),
            _watching(self.client, self.records, record.id, stop),
            progress.writing(),
        ):
            try:
                result = await self.service.predict(
                    self.storage.path(record.id),
                    record.options,
                    on_record=lambda r: fields.update(r.log_fields()),
                    on_progress=_reporter(stop, progress, loop),
                )
                return Outcome(JobStatus.DONE, result=result)
            except Exception as exc:
                if stop.is_set():
                    return Outcome(JobStatus.CANCELLED)
                if not isinstance(exc, GatewayError):
                    log.exception("job %s failed", record.id)
                error, status = failure(exc)
                return Outcome(JobStatus.FAILED, error=error, error_status=status)
            finally:
                stop.set()

    async def _interrupted(self, record: JobRecord) -> None:
        """Cancelled from outside: the worker stopping (the job goes back to the queue and
        keeps its file) or SAQ aborting a deleted job (the record is gone: so goes the file)."""
        try:
            if await self.records.exists(record.id):
                record.status, record.frames, record.expected_frames = JobStatus.QUEUED, 0, None
                await self.records.save(record)
                return
        except RedisError:
            return  # unknown: keep the file; a rerun or the orphan sweep settles it
        self.storage.remove(record.id)

    async def _end(
        self, record: JobRecord, outcome: Outcome, fields: dict[str, Any] | None = None
    ) -> JobRecord | None:
        record.status, record.result = outcome.status, outcome.result
        record.error, record.error_status = outcome.error, outcome.error_status
        record.finished_at = time.time()
        record.expires_at = record.finished_at + self.settings.JOB_TTL_SECONDS
        # Saved before the file goes: if Redis fails here, SAQ runs the job again, file and all.
        saved = outcome.status is not JobStatus.CANCELLED and await self.records.save(record)
        self.storage.remove(record.id)
        status = record.status.value if saved else JobStatus.CANCELLED.value
        self.metrics.job_finished(status, record.started_at, record.finished_at, record.attempts)
        line = {"event": "job", "job_id": record.id, "status": status, "attempts": record.attempts}
        line.update(fields or {})
        if record.error:
            line["code"] = record.error["code"]
        log.info(json.dumps(line, separators=(",", ":")))
        return record if saved else None


class _Progress:
    """The latest frame count, written to the record at most every PROGRESS_SECONDS."""

    def __init__(self, record: JobRecord, records: store.Records, stop: threading.Event) -> None:
        self.record = record
        self.records = records
        self.stop = stop
        self.dirty = asyncio.Event()

    def advance(self, done: int, expected: int | None) -> None:
        self.record.frames, self.record.expected_frames = done, expected
        self.dirty.set()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._write_forever())
        try:
            yield
        finally:
            # Stopped before the record changes status: no half-ended state is published.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            await self.dirty.wait()
            self.dirty.clear()
            try:
                if not await self.records.save(self.record):
                    self.stop.set()  # deleted meanwhile
            except RedisError as exc:  # Redis away: the run goes on, progress resumes after
                log.warning("progress of job %s not saved: %s", self.record.id, exc)
            await asyncio.sleep(PROGRESS_SECONDS)


def _reporter(
    stop: threading.Event, progress: _Progress, loop: asyncio.AbstractEventLoop
) -> FrameProgress:
    """The progress callback: runs on a pipeline thread, so it only hops to the loop."""

    return stop_when(stop, on_loop(loop, progress.advance))


@asynccontextmanager
async def _beating(touch: Touch, interval: float) -> AsyncIterator[None]:
    """SAQ's heartbeat, from the event loop (a busy pipeline thread cannot delay it): a
    worker that dies stops it, and its job is swept after JOB_VISIBILITY_TIMEOUT."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await touch()
            except RedisError as exc:
                log.warning("heartbeat failed: %s", exc)

    async with _background(beat()):
        yield


@asynccontextmanager
async def _watching(
    client: Redis, records: store.Records, job_id: str, stop: threading.Event
) -> AsyncIterator[None]:
    """Set `stop` once the job is deleted: heard on its channel at once, or seen missing by a
    re-read when nothing was heard for CANCEL_POLL_SECONDS (a message lost in a reconnect)."""

    async def watch() -> None:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(store.channel(job_id))
            while not stop.is_set():
                try:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=CANCEL_POLL_SECONDS
                    )
                    state = store.parse_message(message)
                    if state is None:  # nothing heard: make sure nothing was missed
                        deleted = not await records.exists(job_id)
                    else:
                        deleted = state.status is JobStatus.CANCELLED
                    if deleted:
                        stop.set()
                except RedisError:
                    await asyncio.sleep(CANCEL_POLL_SECONDS)
        finally:
            with suppress(RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async with _background(watch()):
        yield


@asynccontextmanager
async def _background(work: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(work)
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
