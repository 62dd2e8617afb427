"""Prometheus scrape endpoint: behind the bearer token when REQUIRE_AUTH is on (Prometheus sends
it with `authorization: {credentials: <key>}` in its scrape config)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Authenticated
from api.errors import Unauthorized
from api.routes.openapi import error_responses

router = APIRouter(tags=["metrics"], dependencies=[Authenticated])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses=error_responses(Unauthorized),
)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
