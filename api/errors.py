"""One error tree for the gateway. Each error carries its HTTP status and a stable code.

Each class's docstring says when it is raised: it is what the OpenAPI spec documents for
its status (api/routes/openapi.py), so keep it one or two sentences a client can act on.

Every error answer has the same JSON shape, `{"error": <message>, "code": <code>}` plus optional
`details`, whether it comes from the pipeline, a backend, request validation or routing.
The module imports no web framework, so the pipeline can raise these errors without depending
on FastAPI; api/routes/errors.py turns them into answers.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out


# --- the client's request ------------------------------------------------------------------
class InvalidRequest(GatewayError):
    """Invalid query parameters (e.g. an unknown operating_point) or a malformed multipart
    body; FastAPI's own request validation answers with this one too."""

    status_code = 422
    code = "invalid_request"


class MissingUpload(GatewayError):
    """The multipart body has no `file` field."""

    status_code = 422
    code = "missing_file"


class EmptyUpload(GatewayError):
    """The uploaded file is empty (0 bytes)."""

    status_code = 400
    code = "empty_file"


class UploadTooLarge(GatewayError):
    """The upload is larger than MAX_UPLOAD_BYTES."""

    status_code = 413
    code = "file_too_large"


class UnsupportedMedia(GatewayError):
    """Not a decodable video or image."""

    status_code = 415
    code = "unsupported_media"


class MediaTooLarge(UnsupportedMedia):
    """The image or video frames are larger than MAX_VIDEO_PIXELS (as declared in the file's
    header, or as decoded): refused before the pixels are decoded."""

    code = "too_many_pixels"


class UploadTimeout(GatewayError):
    """The upload stopped arriving: nothing was received for UPLOAD_IDLE_TIMEOUT seconds."""

    status_code = 408
    code = "upload_timeout"


class MalformedHttp(GatewayError):
    """The HTTP request itself could not be parsed (request line, headers, framing); sent by
    the server before the application sees the request."""

    status_code = 400
    code = "malformed_http"


class Unauthorized(GatewayError):
    """Missing or wrong bearer token (when REQUIRE_AUTH is on)."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Overloaded(GatewayError):
    """More requests in flight than the gateway admits: refused at once, not queued."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


# --- jobs (api/jobs/) -------------------------------------------------------------------------
class JobNotFound(GatewayError):
    """Unknown, expired or deleted job, or one created with another token."""

    status_code = 404
    code = "job_not_found"


class JobQueueFull(Overloaded):
    """The job queue (JOB_QUEUE_SIZE) is full."""

    code = "queue_full"


class JobsUnavailable(Overloaded):
    """The job store (Redis, with JOBS_BACKEND=redis) cannot be reached: jobs can be neither
    queued nor read until it is back; retry after the delay."""

    code = "jobs_unavailable"


# --- the scoring backend -------------------------------------------------------------------
class BackendError(GatewayError):
    """The model server failed; the request itself may well be fine."""

    status_code = 502
    code = "backend_error"


class BackendUnavailable(BackendError):
    """The model server is unreachable, loading or overloaded."""

    status_code = 503
    code = "backend_unavailable"


class BackendTimeout(BackendError):
    """The model server did not answer within REQUEST_TIMEOUT."""

    status_code = 504
    code = "backend_timeout"


class BackendBadResponse(BackendError):
    """The model server answered nonsense (scores that are not probabilities, wrong shape)."""

    status_code = 502
    code = "backend_bad_response"
