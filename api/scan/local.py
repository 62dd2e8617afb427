"""Checking files in this process, with the pipeline and backend wired as the server wires them.

Imported only when a scan runs without --url: it pulls in the pipeline (OpenCV, the backend),
which --help and --url do not need.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from api.errors import GatewayError
from api.metrics import Metrics
from api.options import PredictOptions
from api.pipeline.extract import FrameProgress
from api.scan.errors import ScanError, UsageError
from api.service import DetectionService, build_service
from settings import Settings


class LocalChecker:
    def __init__(
        self, service: DetectionService, fps: float, max_frames: int, operating_point: str | None
    ) -> None:
        self.service = service
        self.fps = fps
        self.max_frames = max_frames
        self.operating_point = operating_point

    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]:
        try:
            options = PredictOptions(self.fps, self.max_frames, self.operating_point)
            answer = await self.service.predict(path, options, on_progress=on_frames)
        except GatewayError as exc:
            raise ScanError(exc.code, exc.message) from exc
        # The JSON form, so that rows are built alike from local and remote answers.
        result: dict[str, Any] = answer.model_dump(mode="json")
        return result


@asynccontextmanager
async def local_checker(args: argparse.Namespace) -> AsyncIterator[LocalChecker]:
    """The pipeline and backend, wired as the server's lifespan wires them."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"invalid settings (environment or .env): {exc}") from exc
    if args.max_frames and args.max_frames > settings.MAX_FRAMES:
        raise UsageError(
            f"--max-frames {args.max_frames} is above MAX_FRAMES={settings.MAX_FRAMES}"
        )
    async with AsyncExitStack() as stack:
        service = await build_service(settings, stack, Metrics())
        yield LocalChecker(
            service,
            args.fps or settings.DEFAULT_FPS,
            args.max_frames or settings.MAX_FRAMES,
            args.operating_point,
        )
