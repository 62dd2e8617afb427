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


_bearer = HTTPBearer(auto_error=False, description="JWT_SECRET or one of API_KEYS")


def require_token(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """When REQUIRE_AUTH is on, demand `Authorization: Bearer <JWT_SECRET or one of API_KEYS>`."""
    if not settings.REQUIRE_AUTH:
        return
    if credentials is None:
        raise Unauthorized("Missing bearer token: send 'Authorization: Bearer <token>'.")
    given = credentials.credentials.encode()
    # Constant time, and every key is compared, so timing reveals neither how much of a guess
    # was right nor which key matched.
    matched = False
    for token in settings.bearer_tokens:
        matched |= hmac.compare_digest(given, token)
    if not matched:
        raise Unauthorized("Invalid bearer token.")


Service = Annotated[DetectionService, Depends(get_service)]
Authenticated = Depends(require_token)
