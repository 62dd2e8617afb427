"""One error tree for the gateway. Each error carries its HTTP status and a stable code.

Every error answer has the same JSON shape, `{"error": <message>, "code": <code>}` plus optional
`details`, whether it comes from the pipeline, a backend, request validation or routing.
The module keeps framework imports inside `install_error_handlers` so the pipeline can raise
these errors without depending on FastAPI.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


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
    status_code = 422
    code = "invalid_request"


class MissingUpload(GatewayError):
    status_code = 422
    code = "missing_file"


class EmptyUpload(GatewayError):
    status_code = 400
    code = "empty_file"


class UploadTooLarge(GatewayError):
    status_code = 413
    code = "file_too_large"


class UnsupportedMedia(GatewayError):
    status_code = 415
    code = "unsupported_media"


class Unauthorized(GatewayError):
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


# --- jobs (api/jobs.py) ----------------------------------------------------------------------
class JobNotFound(GatewayError):
    """Unknown, expired or deleted job, or one created with another token."""

    status_code = 404
    code = "job_not_found"


class JobQueueFull(Overloaded):
    code = "queue_full"


# --- the scoring backend -------------------------------------------------------------------
class BackendError(GatewayError):
    """The model server failed; the request itself may well be fine."""

    status_code = 502
    code = "backend_error"


class BackendUnavailable(BackendError):
    status_code = 503
    code = "backend_unavailable"


class BackendTimeout(BackendError):
    status_code = 504
    code = "backend_timeout"


class BackendBadResponse(BackendError):
    status_code = 502
    code = "backend_bad_response"


def install_error_handlers(app: FastAPI) -> None:
    """Route every error, ours or the framework's, through the one JSON shape."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    async def on_gateway_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GatewayError)
        if isinstance(exc, BackendError):
            log.warning("%s: %s", exc.code, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems)
        error = InvalidRequest(f"Invalid request: {summary}", details={"errors": problems})
        return await on_gateway_error(_, error)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        body = {"error": str(exc.detail), "code": f"http_{exc.status_code}"}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
