"""`deepfake-worker` (python -m api.jobs.worker): runs the jobs gateways queue in Redis
(JOBS_BACKEND=redis), JOB_WORKERS at a time, scaled apart from the gateways.

SAQ does the queueing: a job is dequeued into SAQ's active list, its run heartbeats, and a
sweep (every worker, once per SWEEP interval across all of them) requeues a run whose
heartbeat stopped for JOB_VISIBILITY_TIMEOUT: a worker that was killed. SIGTERM/SIGINT stop the
worker: its running jobs go back to the queue with their files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from contextlib import AsyncExitStack
from typing import Any

from prometheus_client import start_http_server
from saq import Worker
from saq.queue.redis import RedisQueue
from saq.types import Context, PartialTimersDict

from api.callbacks import callback_client
from api.jobs import store
from api.jobs.notify import notify, wants_callback
from api.jobs.record import JobRecord
from api.jobs.runner import Runner
from api.jobs.storage import JobStorage
from api.metrics import Metrics
from api.service import build_service
from settings import JobsBackend, Settings

log = logging.getLogger("api.jobs.worker")

DEQUEUE_TIMEOUT = 1.0  # seconds a free slot waits on the queue before it looks again
CALLBACK_CONCURRENCY = 4  # deliveries at once per worker (mostly waiting on receivers)


def sweep_seconds(settings: Settings) -> int:
    # Often enough that a lost job is requeued soon after its visibility timeout.
    return max(1, settings.JOB_VISIBILITY_TIMEOUT // 2)


def callback_options(settings: Settings) -> dict[str, Any]:
    """SAQ's parameters for a deliver_callback job: a slow receiver holds its own task, not a
    job slot; a worker lost mid-delivery is retried once, resuming the attempts it made."""
    per_attempt = settings.CALLBACK_TIMEOUT + 60  # the callbacks' backoff is capped at 60 s
    return {"timeout": int(settings.CALLBACK_MAX_ATTEMPTS * per_attempt) + 60, "retries": 2}


class _Secondary(Worker[Context]):
    """A worker that leaves SIGTERM/SIGINT to the primary one (asyncio keeps one handler per
    signal); it is stopped when the primary stops."""

    SIGNALS: list[signal.Signals] = []  # noqa: RUF012


class JobWorker:
    """The SAQ functions, with what they need."""

    def __init__(
        self, settings: Settings, runner: Runner, metrics: Metrics, callbacks: RedisQueue
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.metrics = metrics
        self.callback_queue = callbacks
        self.callbacks = callback_client(settings)

    async def run_job(self, ctx: Context) -> None:
        job = ctx["job"]
        ended = await self.runner.run(job.key, job.attempts, job.update)
        if ended is not None and wants_callback(ended):
            # A queue of its own: a slow receiver holds a callback slot, not a job slot.
            await self.callback_queue.enqueue(
                store.DELIVER_CALLBACK,
                key=ended.id,
                job_id=ended.id,
                **callback_options(self.settings),
            )

    async def deliver_callback(self, ctx: Context, *, job_id: str) -> None:
        records = self.runner.records
        record = await records.get(job_id)
        if record is None or not wants_callback(record):
            return  # deleted or expired meanwhile

        async def save(state: JobRecord) -> bool:
            return await records.save(state, keep_ttl=True)

        await notify(record, self.settings, self.callbacks, self.metrics, save)


async def serve(settings: Settings) -> None:
    assert settings.REDIS_URL  # Settings checks both with JOBS_BACKEND=redis
    assert settings.JOB_STORAGE_DIR
    metrics = Metrics()
    async with AsyncExitStack() as stack:
        service = await build_service(settings, stack, metrics)
        client = store.connect(settings.REDIS_URL)
        queue, callback_queue = store.make_queue(client), store.make_callback_queue(client)
        for q in (queue, callback_queue):
            await q.connect()
        stack.push_async_callback(queue.disconnect)  # closes the shared client too
        storage = JobStorage(settings.JOB_STORAGE_DIR)
        storage.create()
        runner = Runner(settings, service, client, storage, metrics)
        jobs = JobWorker(settings, runner, metrics, callback_queue)
        stack.push_async_callback(jobs.callbacks.aclose)
        server, _ = start_http_server(settings.WORKER_METRICS_PORT, registry=metrics.registry)
        stack.callback(server.shutdown)
        log.info("worker metrics on port %d", server.server_port)
        timers: PartialTimersDict = {
            "sweep": sweep_seconds(settings),
            "abort": 1,
            "schedule": 1,
            "worker_info": 10,
        }
        worker: Worker[Context] = Worker(
            queue,
            # Host and pid: which process holds a job reads from its SAQ record.
            id=f"{socket.gethostname()}-{os.getpid()}",
            functions=[(store.RUN_JOB, jobs.run_job)],
            concurrency=settings.JOB_WORKERS,
            timers=timers,
            dequeue_timeout=DEQUEUE_TIMEOUT,
        )
        deliveries = _Secondary(
            callback_queue,
            functions=[(store.DELIVER_CALLBACK, jobs.deliver_callback)],
            concurrency=CALLBACK_CONCURRENCY,
            timers=timers,
            dequeue_timeout=DEQUEUE_TIMEOUT,
        )
        delivering = asyncio.create_task(deliveries.start())
        try:
            await worker.start()
        finally:
            await deliveries.stop()
            await asyncio.gather(delivering, return_exceptions=True)


def main() -> None:
    settings = Settings()
    if settings.JOBS_BACKEND is not JobsBackend.REDIS:
        raise SystemExit("deepfake-worker needs JOBS_BACKEND=redis, REDIS_URL and JOB_STORAGE_DIR")
    logger = logging.getLogger("api")
    logger.setLevel(settings.LOG_LEVEL)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
