"""The job record: what GET /jobs/{id} reports, one shape for both backends.

The memory backend keeps records as objects; the Redis backend stores them as JSON (to_json /
from_json), so a record written by a worker reads the same on every gateway.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from api.errors import GatewayError
from api.options import PredictOptions
from api.schemas import PredictResponse


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


def failure(exc: Exception) -> tuple[dict[str, Any], int]:
    """A failed job's `error` and `error_status`: what /predict would have answered for `exc`
    (an unexpected exception is the error tree's own 500 `internal_error`)."""
    if isinstance(exc, GatewayError):
        return exc.body(), exc.status_code
    error = {"error": "The gateway failed on this video.", "code": GatewayError.code}
    return error, GatewayError.status_code


@dataclass(kw_only=True, eq=False)
class JobRecord:
    id: str
    owner: str  # digest of the bearer token that created it; "" without auth
    filename: str | None
    size: int
    options: PredictOptions
    created_at: float = field(default_factory=time.time)
    status: JobStatus = JobStatus.QUEUED
    frames: int = 0
    expected_frames: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    expires_at: float | None = None  # wall clock, reported
    result: PredictResponse | None = None
    error: dict[str, Any] | None = None  # the JSON error body /predict would have answered
    error_status: int | None = None  # ... and its HTTP status
    attempts: int = 0  # runs started, retries after a lost worker included
    # The callback's state (api.callbacks.CallbackState.to_dict()), None without callback_url.
    callback: dict[str, Any] | None = None
    revision: int = 0  # bumped on every change; SSE streams send what they have not seen

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> float | None:
        if self.status is JobStatus.DONE:
            return 100.0
        if not self.expected_frames:
            return None  # the container does not say how many frames it has
        return round(min(100.0, 100 * self.frames / self.expected_frames), 1)

    def to_json(self) -> bytes:
        data = {name: getattr(self, name) for name in _FIELDS}
        data["options"] = asdict(self.options)
        data["result"] = self.result.model_dump(mode="json") if self.result else None
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> JobRecord:
        data = orjson.loads(raw)
        data["options"] = PredictOptions(**data["options"])
        data["status"] = JobStatus(data["status"])
        if data["result"] is not None:
            data["result"] = PredictResponse.model_validate(data["result"])
        return cls(**{name: data[name] for name in _FIELDS if name in data})


_FIELDS = tuple(f for f in JobRecord.__dataclass_fields__)
