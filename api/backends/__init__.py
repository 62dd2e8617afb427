"""Scoring backends: one interface (`base.ScoringBackend`), TF Serving over REST or the model
in-process (`runtimes`: LiteRT or TensorFlow). May import `api.contract`, `api.errors`,
`api.pipeline.batching` and `settings`; never the service or the routes."""

from __future__ import annotations

import asyncio

import httpx

from api.backends.base import BackendStatus, CropSizeChanged, Scored, ScoringBackend
from api.backends.embedded import EmbeddedBackend
from api.backends.guard import CircuitBreaker, GuardedBackend
from api.backends.tf_serving import TFServingBackend
from settings import BackendKind, Settings

__all__ = [
    "BackendStatus",
    "CircuitBreaker",
    "CropSizeChanged",
    "EmbeddedBackend",
    "GuardedBackend",
    "Scored",
    "ScoringBackend",
    "TFServingBackend",
    "build",
]


async def build(settings: Settings, client: httpx.AsyncClient) -> ScoringBackend:
    """The backend the settings ask for (TF Serving when TF_SERVING_URL is set, by default)."""
    if settings.backend_kind is BackendKind.TF_SERVING:
        assert settings.TF_SERVING_URL  # guaranteed by Settings' validator
        remote = TFServingBackend(
            client,
            settings.TF_SERVING_URL,
            settings.MODEL_NAME,
            settings.MODEL_VERSION,
            version_label=settings.MODEL_VERSION_LABEL,
            batch_size=settings.BATCH_SIZE,
            wire=settings.TF_SERVING_WIRE,
        )
        return GuardedBackend(
            remote,
            retries=settings.BACKEND_RETRIES,
            backoff=settings.BACKEND_RETRY_BACKOFF,
            breaker=CircuitBreaker(settings.BREAKER_FAILURES, settings.BREAKER_COOLDOWN),
        )
    return await asyncio.to_thread(
        EmbeddedBackend.load,
        settings.model_dir,
        batch_size=settings.BATCH_SIZE,
        threads=settings.INFERENCE_THREADS,
        runtime=settings.EMBEDDED_RUNTIME,
    )
