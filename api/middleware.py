"""Request ids, one structured log line per request, and the HTTP metrics (pure ASGI)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

log = logging.getLogger("api.access")

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's "client closed request": the client went away before its answer; not a server error.
CLIENT_CLOSED = 499
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    """Per-request log fields: the middleware's, plus what the handler adds (a prediction's
    `PredictRecord.log_fields()`)."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.fields: dict[str, Any] = {}


def context_of(scope: Scope) -> RequestContext | None:
    context = scope.get("state", {}).get("context")
    return context if isinstance(context, RequestContext) else None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode()
        context = RequestContext(incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex)
        scope.setdefault("state", {})["context"] = context
        status = 500  # what the client sees if the app fails before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, context.request_id)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # Raised while the body was read (starlette), or by the handler that saw the
            # disconnect while computing the answer. Nobody is there to answer: no response,
            # no traceback, and counted as the client's doing rather than a 500.
            status = CLIENT_CLOSED
        finally:
            self.metrics.in_flight.dec()
            self._finish(scope, context, status, time.perf_counter() - started)

    def _finish(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, scope["method"], str(status)).inc()
        self.metrics.request_seconds.labels(route).observe(seconds)
        line = {
            "event": "request",
            "request_id": context.request_id,
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            **context.fields,
        }
        log.info(json.dumps(line, separators=(",", ":")))
