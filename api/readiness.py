"""Readiness: the backend serves the wanted version AND a known clip goes through the whole
pipeline (decode, detection, scoring). Verdicts are cached briefly so probes cost little."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.errors import GatewayError
from api.options import PredictOptions
from api.service import DetectionService

# 1 s of the astronaut photo (public domain, from scikit-image) at 4 fps, 480x270: every frame
# has a face, so a working pipeline always produces 4 scores.
PROBE_CLIP = Path(__file__).parent / "assets" / "probe.mp4"
PROBE_FPS, PROBE_FACES = 4.0, 4


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # check name -> "ok" or why not
    version: str | None  # the model version that answered the probe
    checked_at: float = field(default_factory=time.monotonic)


# A dependency's check: "ok" or why it fails (e.g. the job store, with JOBS_BACKEND=redis).
Check = Callable[[], Awaitable[str]]


class ReadinessProbe:
    def __init__(
        self, service: DetectionService, ttl: float, checks: Mapping[str, Check] | None = None
    ) -> None:
        self.service = service
        self.ttl = ttl
        self.checks = dict(checks or {})
        self._last: Readiness | None = None
        self._lock = asyncio.Lock()  # one probe at a time, however many callers

    async def check(self) -> Readiness:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last.checked_at >= self.ttl:
                self._last = await self._run()
            return self._last

    async def _run(self) -> Readiness:
        status = await self.service.backend.status()
        checks = {"backend": "ok" if status.ready else status.detail}
        version = status.version
        if status.ready:
            checks["pipeline"], version = await self._probe(version)
        for name, check in self.checks.items():
            checks[name] = await check()
        ready = all(v == "ok" for v in checks.values())
        return Readiness(ready, checks, version)

    async def _probe(self, version: str | None) -> tuple[str, str | None]:
        try:
            options = PredictOptions(fps=PROBE_FPS, max_frames=PROBE_FACES)
            answer = await self.service.predict(PROBE_CLIP, options, observe=False)
        except GatewayError as exc:
            return f"probe clip failed: {exc.code}: {exc.message}", version
        if answer.meta.face_frames != PROBE_FACES:
            return f"probe clip: {answer.meta.face_frames}/{PROBE_FACES} faces found", version
        return "ok", answer.version
