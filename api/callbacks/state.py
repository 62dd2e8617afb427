"""The callback state stored with a job: where it goes and how its delivery went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

CallbackStatus = Literal["pending", "delivered", "failed"]
_STATUSES: tuple[CallbackStatus, ...] = ("pending", "delivered", "failed")


@dataclass
class CallbackState:
    """Where a job's callback goes and how its delivery went; stored with the job."""

    url: str
    status: CallbackStatus = "pending"
    attempts: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallbackState:
        status = data.get("status", "pending")
        if not _is_status(status):
            raise ValueError(f"unknown callback status {status!r}")
        last_error = data.get("last_error")
        return cls(
            url=str(data["url"]),
            status=status,
            attempts=int(data.get("attempts", 0)),
            last_error=None if last_error is None else str(last_error),
        )

    def public(self, *, sent_at: int | None = None) -> dict[str, Any]:
        """The job JSON's `callback` object (without the URL); in a callback body, pass the
        attempt's timestamp as `sent_at` so the signature covers it."""
        out: dict[str, Any] = {
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }
        if sent_at is not None:
            out["sent_at"] = sent_at
        return out


def _is_status(value: object) -> TypeGuard[CallbackStatus]:
    return value in _STATUSES
