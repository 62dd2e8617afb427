"""Liveness (the process answers), readiness (it can score a video now), and the original
/health kept for compatibility."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import Service
from api.readiness import ReadinessProbe
from api.schemas import HealthResponse, LiveResponse, ReadyResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The backend cannot score now"}},
    summary="Can the backend score right now? (the original service's shape)",
)
async def health(service: Service) -> JSONResponse:
    status = await service.backend.status()
    body = HealthResponse(
        ok=status.ready,
        backend=service.backend.name,
        model=service.settings.MODEL_NAME,
        version=status.version or str(service.settings.MODEL_VERSION),
        detail=status.detail,
    )
    return JSONResponse(body.model_dump(), status_code=200 if status.ready else 503)


@router.get(
    "/health/ready",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "Not ready: see checks"}},
    summary="Backend serving the wanted version, and a known clip scored end to end",
)
async def ready(request: Request, service: Service) -> JSONResponse:
    probe: ReadinessProbe = request.app.state.readiness
    result = await probe.check()
    body = ReadyResponse(
        ready=result.ready,
        model=service.settings.MODEL_NAME,
        version=result.version,
        backend=service.backend.name,
        checks=result.checks,
    )
    return JSONResponse(body.model_dump(), status_code=200 if result.ready else 503)


@router.get("/health/live", response_model=LiveResponse, summary="Is the process up?")
async def live() -> LiveResponse:
    return LiveResponse()
