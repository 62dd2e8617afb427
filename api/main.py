"""The app factory and its lifespan, which owns every long-lived resource.

Run with `uvicorn api.main:create_app --factory`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import __version__
from api.jobs import JobBackend
from api.jobs.memory import JobManager
from api.jobs.redis import RedisJobs
from api.metrics import Metrics
from api.middleware import ObservabilityMiddleware
from api.readiness import Check, ReadinessProbe
from api.routes import health, jobs, metrics, predict, web
from api.routes.errors import install_error_handlers
from api.service import DetectionService, build_service
from settings import JobsBackend, Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Upload a video or an image; the gateway samples frames, finds the faces with a Haar cascade,
scores face crops at the served model's input size (TF Serving or in-process) and averages the
frame scores.
`score` is P(fake); `label` is "fake" when score >= the threshold.
"""


def configure_logging(level: str) -> None:
    """Our loggers print one line per record to stderr; uvicorn keeps its own handlers."""
    logger = logging.getLogger("api")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def build_jobs(settings: Settings, service: DetectionService) -> JobBackend:
    """The job backend JOBS_BACKEND names."""
    if settings.JOBS_BACKEND is JobsBackend.REDIS:
        return RedisJobs(settings, service.metrics)
    return JobManager(
        service,
        queue_size=settings.JOB_QUEUE_SIZE,
        workers=settings.JOB_WORKERS,
        ttl=settings.JOB_TTL_SECONDS,
        upload_dir=settings.JOB_STORAGE_DIR or settings.UPLOAD_DIR,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.LOG_LEVEL)
    app_metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            service = await build_service(settings, stack, app_metrics)
            app.state.service = service
            # Closed before the pool and the backend (the stack unwinds in reverse): jobs are
            # cancelled and their files removed while what they use still exists.
            job_backend = build_jobs(settings, service)
            await job_backend.start()
            stack.push_async_callback(job_backend.close)
            app.state.jobs = job_backend
            # With Redis, readiness says whether jobs can be queued; in memory they always can.
            checks: dict[str, Check] = {}
            if isinstance(job_backend, RedisJobs):
                checks["jobs"] = job_backend.check
            app.state.readiness = ReadinessProbe(service, settings.READY_CACHE_SECONDS, checks)
            log.info(
                "serving %s %s with the %s backend",
                settings.MODEL_NAME,
                f"label {settings.MODEL_VERSION_LABEL}"
                if settings.MODEL_VERSION_LABEL
                else f"v{settings.MODEL_VERSION}",
                service.backend.name,
            )
            yield

    app = FastAPI(
        title="Deepfake detection gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = app_metrics
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_credentials=settings.CORS_ALLOW_CREDENTIALS,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Outermost, so every answer (errors and CORS refusals too) is counted and logged.
    app.add_middleware(ObservabilityMiddleware, metrics=app_metrics)
    install_error_handlers(app)
    app.include_router(predict.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(jobs.router)
    web.install(app)
    return app
