"""A job's callback, delivered once the job has ended (done or failed; not when the client
deleted it), by whoever ran the job: the memory backend's task or a `deepfake-worker`."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import httpx
import orjson

from api.callbacks import CallbackState, deliver
from api.jobs.record import JobRecord, JobStatus
from api.jobs.view import view
from api.metrics import Metrics
from settings import Settings

NOTIFIED = frozenset({JobStatus.DONE, JobStatus.FAILED})


def wants_callback(record: JobRecord) -> bool:
    return record.callback is not None and record.status in NOTIFIED


def body_of(record: JobRecord) -> Callable[[CallbackState, int], bytes]:
    """The JSON GET /jobs/{id} gives, its `callback` the attempt's state and `sent_at`."""

    def body(state: CallbackState, sent_at: int) -> bytes:
        sending = dataclasses.replace(record, callback=state.public(sent_at=sent_at))
        return orjson.dumps(view(sending, None).model_dump(mode="json"))

    return body


async def notify(
    record: JobRecord,
    settings: Settings,
    client: httpx.AsyncClient,
    metrics: Metrics,
    save: Callable[[JobRecord], Awaitable[object]],
) -> None:
    """Deliver the record's callback, saving its state after every attempt (GET shows it)."""
    assert record.callback is not None
    state = CallbackState.from_dict(record.callback)

    async def on_attempt(attempt: CallbackState) -> None:
        record.callback = attempt.to_dict()
        await save(record)

    final = await deliver(state, body_of(record), settings, client, on_attempt, job_id=record.id)
    metrics.callbacks.labels(final.status).inc()
