"""Every error, ours or the framework's, answered in the one JSON shape of api/errors.py."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.errors import BackendError, GatewayError, InvalidRequest

# The name the log lines had when this code lived in api.errors; log filters may rely on it.
log = logging.getLogger("api.errors")


def install_error_handlers(app: FastAPI) -> None:
    """Route every error, ours or the framework's, through the one JSON shape."""

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
