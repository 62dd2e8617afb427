"""Request dependencies: the long-lived services built by the lifespan, and authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import Unauthorized
from api.service import DetectionService
from settings import Settings


def get_service(request: Request) -> DetectionService:
    service: DetectionService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_bearer = HTTPBearer(auto_error=False, description="The token set in JWT_SECRET")


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """When REQUIRE_AUTH is on, demand `Authorization: Bearer <JWT_SECRET>`."""
    if not settings.REQUIRE_AUTH:
        return
    if credentials is None:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    expected = settings.JWT_SECRET.get_secret_value().encode()
    # Constant time, so the comparison does not reveal how much of a guess was right.
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise Unauthorized("Invalid bearer token.")


Service = Annotated[DetectionService, Depends(get_service)]
Authenticated = Depends(require_token)
