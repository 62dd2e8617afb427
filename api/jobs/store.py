"""Jobs in Redis, what gateways and workers share: key names, the SAQ queue, and the records.

- `deepfake:job:<id>`: the job record (JobRecord JSON). No TTL while the job may still run;
  JOB_TTL_SECONDS once it has ended; a short one between its creation and its queueing, so
  that a gateway dying in between leaves nothing behind.
- `deepfake:job:<id>:events`: pub/sub channel; every write of the record publishes it, and
  DELETE publishes the cancelled state (streams end on it, the running worker stops on it).
- SAQ's keys (`saq:deepfake-jobs:*`, `saq:job:deepfake-jobs:<id>`): the queue, with the job
  id as SAQ key, so that a job is queued once.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from redis.asyncio import Redis
from saq.queue.redis import RedisQueue

from api.jobs.record import JobRecord

QUEUE_NAME = "deepfake-jobs"
CALLBACK_QUEUE_NAME = "deepfake-callbacks"
RUN_JOB = "run_job"  # the SAQ function names workers register
DELIVER_CALLBACK = "deliver_callback"
PROVISIONAL_SECONDS = 60  # a record's TTL until its job is queued
# SAQ's own hard limit on one run (it is retried after it): far above any video MAX_FRAMES
# allows, only there so that a run wedged with a live heartbeat cannot hold a slot forever.
JOB_TIMEOUT_SECONDS = 4 * 3600

# SET the record only if it exists (a deleted job stays deleted), with a TTL in ms (ARGV[2] > 0),
# none (0) or the one it has (-1); publish it if it was written.
_SAVE = """
local ok
if ARGV[2] == '0' then ok = redis.call('SET', KEYS[1], ARGV[1], 'XX')
elseif ARGV[2] == '-1' then ok = redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL')
else ok = redis.call('SET', KEYS[1], ARGV[1], 'XX', 'PX', ARGV[2]) end
if ok then redis.call('PUBLISH', KEYS[2], ARGV[1]) return 1 end
return 0
"""
# DELETE the record and publish its last state, in one step: a worker saving progress at the
# same moment either lands before (and is deleted) or finds no key.
_REMOVE = """
if redis.call('DEL', KEYS[1]) == 1 then redis.call('PUBLISH', KEYS[2], ARGV[1]) return 1 end
return 0
"""


def record_key(job_id: str) -> str:
    return f"deepfake:job:{job_id}"


def channel(job_id: str) -> str:
    return f"deepfake:job:{job_id}:events"


def connect(url: str) -> Redis:
    # Timeouts, so that an unreachable Redis answers 503 within seconds instead of hanging;
    # above the workers' dequeue timeout (1 s), whose BLMOVE waits on the socket meanwhile.
    return Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=10
    )


def make_queue(client: Redis) -> RedisQueue:
    return RedisQueue(client, name=QUEUE_NAME)


def make_callback_queue(client: Redis) -> RedisQueue:
    return RedisQueue(client, name=CALLBACK_QUEUE_NAME)


def enqueue_options(max_attempts: int, visibility_timeout: int, ttl: float) -> dict[str, Any]:
    """SAQ's parameters for a run_job job.

    heartbeat: a run not touched for this long is swept and requeued (the worker touches it
    every third of it). retries: SAQ counts every start; one more than JOB_MAX_ATTEMPTS, so
    that the start after the last allowed one reaches our code, which ends the job `failed`
    with a clear error instead of SAQ's silent abort."""
    return {
        "heartbeat": visibility_timeout,
        "retries": max_attempts + 1,
        "timeout": JOB_TIMEOUT_SECONDS,
        "ttl": max(1, math.ceil(ttl)),
    }


class Records:
    def __init__(self, client: Redis, ttl: float) -> None:
        self.client = client
        self.ttl_ms = max(1, round(ttl * 1000))
        self._save = client.register_script(_SAVE)
        self._remove = client.register_script(_REMOVE)

    async def create(self, record: JobRecord) -> None:
        await self.client.set(record_key(record.id), record.to_json(), ex=PROVISIONAL_SECONDS)

    async def confirm(self, job_id: str) -> None:
        """The job is queued: its record lives until the job ends."""
        await self.client.persist(record_key(job_id))

    async def get(self, job_id: str) -> JobRecord | None:
        raw = await self.client.get(record_key(job_id))
        return None if raw is None else JobRecord.from_json(raw)

    async def exists(self, job_id: str) -> bool:
        return bool(await self.client.exists(record_key(job_id)))

    async def live(self, job_ids: list[str]) -> list[str]:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(record_key(job_id))
            found = await pipe.execute()
        return [job_id for job_id, n in zip(job_ids, found, strict=True) if n]

    async def save(self, record: JobRecord, *, keep_ttl: bool = False) -> bool:
        """Write a new revision of the record (TTL JOB_TTL_SECONDS once it has ended) and
        publish it; False when the record is gone (deleted or expired)."""
        record.revision += 1
        ttl = -1 if keep_ttl else self.ttl_ms if record.finished else 0
        keys = [record_key(record.id), channel(record.id)]
        return bool(await self._save(keys=keys, args=[record.to_json(), ttl]))

    async def remove(self, last: JobRecord) -> bool:
        keys = [record_key(last.id), channel(last.id)]
        return bool(await self._remove(keys=keys, args=[last.to_json()]))


def parse_message(message: dict[str, Any] | None) -> JobRecord | None:
    """A record published on a job's channel, or None for anything else."""
    if message is None or message.get("type") != "message":
        return None
    try:
        return JobRecord.from_json(message["data"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
