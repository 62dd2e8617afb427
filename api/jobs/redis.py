"""The gateway side of JOBS_BACKEND=redis: records in Redis, runs queued with SAQ for the
`deepfake-worker` processes (api/jobs/worker.py). Any gateway answers for any job, and a
gateway restart forgets nothing.

Redis unreachable: every call answers JobsUnavailable (503 `jobs_unavailable`), never 500.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from saq.job import TERMINAL_STATUSES

from api.callbacks import CallbackState
from api.errors import JobsUnavailable
from api.jobs import store
from api.jobs.backend import QueuePlaces
from api.jobs.memory import not_found
from api.jobs.record import JobRecord, JobStatus
from api.jobs.storage import JobStorage
from api.metrics import Metrics
from api.options import PredictOptions
from api.uploads import Upload
from settings import Settings

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_SECONDS = 5
POLL_SECONDS = 1.0  # an event stream re-reads the record this often when nothing is published
QUEUE_GAUGE_SECONDS = 2.0  # how often the queue depth metric is read from Redis
ORPHAN_SWEEP_SECONDS = 60.0


@contextmanager
def available() -> Iterator[None]:
    """Redis failures as 503 jobs_unavailable (the details go to the log, not the client)."""
    try:
        yield
    except RedisError as exc:
        log.warning("job store unreachable: %s: %s", type(exc).__name__, exc)
        raise JobsUnavailable(
            "Jobs are unavailable: the job store (Redis) cannot be reached. Retry later.",
            retry_after=UNAVAILABLE_RETRY_SECONDS,
        ) from None


class RedisJobs:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        assert settings.REDIS_URL  # Settings checks both
        assert settings.JOB_STORAGE_DIR
        self.settings = settings
        self.metrics = metrics
        self.queue_size = settings.JOB_QUEUE_SIZE
        self.ttl = settings.JOB_TTL_SECONDS
        self.client = store.connect(settings.REDIS_URL)
        self.queue = store.make_queue(self.client)
        self.records = store.Records(self.client, self.ttl)
        self.storage = JobStorage(settings.JOB_STORAGE_DIR)
        self.upload_dir: Path | None = settings.JOB_STORAGE_DIR
        self._places = QueuePlaces(self.queue_size)
        self._upkeep: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.storage.create()
        await self.queue.connect()
        # Not a failure when Redis is down now: readiness says so, and calls answer 503.
        self._upkeep = asyncio.create_task(self._upkeep_forever(), name="jobs-upkeep")

    async def close(self) -> None:
        if self._upkeep is not None:
            self._upkeep.cancel()
            await asyncio.gather(self._upkeep, return_exceptions=True)
        await self.queue.disconnect()

    async def check(self) -> str:
        try:
            async with asyncio.timeout(5):
                await self.client.ping()
        except (RedisError, TimeoutError) as exc:
            return f"job store (Redis) unreachable: {type(exc).__name__}: {exc}"
        return "ok"

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[None]:
        # The queue is shared; uploads streaming to other gateways are not counted.
        with available():
            waiting = await self.queue.count("queued")
        async with self._places.hold(waiting):
            yield

    async def submit(
        self,
        upload: Upload,
        options: PredictOptions,
        *,
        owner: str,
        callback_url: str | None = None,
    ) -> JobRecord:
        job_id = secrets.token_urlsafe(16)
        record = JobRecord(
            id=job_id, owner=owner, filename=upload.filename, size=upload.size, options=options
        )
        if callback_url is not None:
            record.callback = CallbackState(url=callback_url).to_dict()
        await self.storage.adopt(upload.path, job_id)
        try:
            with available():
                # Record first, with a short TTL: a worker that takes the job finds it; a
                # gateway dying before the enqueue leaves a record that expires (its file is
                # then swept as an orphan).
                await self.records.create(record)
                options_ = store.enqueue_options(
                    self.settings.JOB_MAX_ATTEMPTS, self.settings.JOB_VISIBILITY_TIMEOUT, self.ttl
                )
                await self.queue.enqueue(store.RUN_JOB, key=job_id, **options_)
                await self.records.confirm(job_id)
        except BaseException:
            self.storage.remove(job_id)
            with suppress(RedisError):
                await self.client.delete(store.record_key(job_id))
            raise
        return record

    async def find(self, job_id: str, owner: str) -> JobRecord:
        with available():
            record = await self.records.get(job_id)
        if record is None or record.owner != owner:
            raise not_found(job_id, self.ttl)
        return record

    async def queue_position(self, job: JobRecord) -> int | None:
        if job.status is not JobStatus.QUEUED:
            return None
        with available():
            # Workers take from the head of SAQ's list (BLMOVE LEFT).
            queued = self.queue.namespace("queued")
            index = await self.client.lpos(queued, self.queue.job_id(job.id))
        return index + 1 if isinstance(index, int) else None

    async def delete(self, job: JobRecord) -> None:
        last = dataclasses.replace(job, revision=job.revision + 1)
        if not job.finished:
            last.status, last.finished_at = JobStatus.CANCELLED, time.time()
        with available():
            # Gone at once for every gateway; the running worker hears it and stops.
            await self.records.remove(last)
            if not job.finished:
                await self._abort(job.id)
        # The worker may still have it open: it reads on until its next frame, then stops.
        self.storage.remove(job.id)

    async def _abort(self, job_id: str) -> None:
        """Take a waiting job off SAQ's queue (a running one is stopped by its worker)."""
        queued = await self.queue.job(job_id)
        if queued is None or queued.status in TERMINAL_STATUSES:
            return
        was_waiting = queued.status.value == "queued"
        await self.queue.abort(queued, "deleted by the client")
        if was_waiting:
            self.metrics.jobs_finished.labels(JobStatus.CANCELLED.value).inc()

    async def changes(self, job: JobRecord) -> AsyncIterator[JobRecord]:
        # Subscribed before the first read, so no change falls between the two.
        try:
            pubsub = self.client.pubsub()
            await pubsub.subscribe(store.channel(job.id))
        except RedisError:
            yield job
            return
        try:
            async for record in self._follow(pubsub, job.id):
                yield record
        except RedisError as exc:
            # The stream ends; EventSource clients reconnect and get the state then.
            log.warning("event stream of job %s ended: %s", job.id, exc)
        finally:
            with suppress(RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _follow(self, pubsub: PubSub, job_id: str) -> AsyncIterator[JobRecord]:
        current = await self.records.get(job_id)
        if current is None:
            return
        yield current
        while not current.finished:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            # A published state, or (nothing heard: a message lost in a reconnect) a re-read.
            latest = store.parse_message(message) or await self.records.get(job_id)
            if latest is None:
                return  # deleted or expired, and its last state not heard
            if latest.revision > current.revision:
                current = latest
                yield current

    async def _upkeep_forever(self) -> None:
        last_sweep = 0.0
        while True:
            try:
                self.metrics.jobs_queued.set(await self.queue.count("queued"))
                if time.monotonic() - last_sweep >= ORPHAN_SWEEP_SECONDS:
                    last_sweep = time.monotonic()
                    for path in await self.storage.sweep(self.records.live):
                        log.info("removed orphaned job file %s", path.name)
            except (RedisError, OSError) as exc:
                log.debug("jobs upkeep: %s", exc)
            await asyncio.sleep(QUEUE_GAUGE_SECONDS)
