"""Where job uploads wait for a worker (JOB_STORAGE_DIR, a volume every gateway and worker
shares), one file per job: `job-<id>.bin`.

The gateway streams an upload into a temp file in this same directory (api.uploads), then
renames it to the job's name: a rename within one filesystem is atomic, so a worker sees the
whole file or none. Whoever ends a job removes its file; `sweep` removes what nobody will (a
gateway that died between writing the file and queueing its job, or mid-upload).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from pathlib import Path

PREFIX, SUFFIX = "job-", ".bin"
# A file is an orphan only once untouched this long: it covers a gateway between renaming an
# upload and writing its record, and uploads still streaming (whose writes touch them).
ORPHAN_GRACE_SECONDS = 600.0


class JobStorage:
    def __init__(self, directory: Path, grace: float = ORPHAN_GRACE_SECONDS) -> None:
        self.directory = directory
        self.grace = grace

    def path(self, job_id: str) -> Path:
        return self.directory / f"{PREFIX}{job_id}{SUFFIX}"

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def adopt(self, upload: Path, job_id: str) -> Path:
        """Make the streamed upload the job's file: flushed to disk first, so that a worker on
        another host reads every byte, then renamed (atomic)."""
        await asyncio.to_thread(_fsync, upload)
        path = self.path(job_id)
        # Not awaited: a cancelled rename in a thread could still land after we gave up on it.
        upload.replace(path)  # noqa: ASYNC240
        return path

    def remove(self, job_id: str) -> None:
        # Synchronous on purpose (as in api.uploads): an awaited unlink could be cancelled.
        with suppress(FileNotFoundError):
            self.path(job_id).unlink()

    async def sweep(self, live: Callable[[list[str]], Awaitable[Iterable[str]]]) -> list[Path]:
        """Remove files older than the grace period that no live job owns; `live(ids)` says
        which of the ids still have a record. Returns what was removed."""
        stale = await asyncio.to_thread(self._stale)
        ids = [p.name[len(PREFIX) : -len(SUFFIX)] for p in stale if p.name.startswith(PREFIX)]
        keep = {self.path(i) for i in await live(ids)} if ids else set()
        removed = [p for p in stale if p not in keep]
        for path in removed:
            with suppress(FileNotFoundError):
                path.unlink()
        return removed

    def _stale(self) -> list[Path]:
        cutoff = time.time() - self.grace
        stale = []
        for entry in os.scandir(self.directory):
            with suppress(FileNotFoundError):
                if entry.name.endswith(SUFFIX) and entry.stat().st_mtime <= cutoff:
                    stale.append(Path(entry.path))
        return stale


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())
