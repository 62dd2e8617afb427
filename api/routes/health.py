"""Liveness (the process answers) and readiness (the backend can score right now)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Service
from api.schemas import HealthResponse, LiveResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The backend cannot score now"}},
    summary="Can the gateway score a video right now?",
)
async def health(service: Service) -> JSONResponse:
    status = await service.backend.status()
    body = HealthResponse(
        ok=status.ready,
        backend=service.backend.name,
        model=service.settings.MODEL_NAME,
        version=str(service.settings.MODEL_VERSION),
        detail=status.detail,
    )
    return JSONResponse(body.model_dump(), status_code=200 if status.ready else 503)


@router.get("/health/live", response_model=LiveResponse, summary="Is the process up?")
async def live() -> LiveResponse:
    return LiveResponse()
