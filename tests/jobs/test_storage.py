"""JOB_STORAGE_DIR: an upload becomes a job's file by an atomic rename; the orphan sweep removes
what no live job owns once it is older than the grace period (a gateway that died between
writing the file and queueing its job, or mid-upload), and keeps the rest."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from api.jobs.storage import JobStorage


def test_adopt_renames_the_upload_into_the_jobs_name(tmp_path: Path) -> None:
    storage = JobStorage(tmp_path)
    upload = tmp_path / "upload-abc.bin"
    upload.write_bytes(b"video")
    path = asyncio.run(storage.adopt(upload, "j1"))
    assert path == tmp_path / "job-j1.bin"
    assert [p.name for p in tmp_path.iterdir()] == ["job-j1.bin"]
    assert path.read_bytes() == b"video"
    storage.remove("j1")
    storage.remove("j1")  # removing twice is fine: every path removes it
    assert list(tmp_path.iterdir()) == []


def test_the_sweep_removes_old_orphans_only(tmp_path: Path) -> None:
    storage = JobStorage(tmp_path, grace=60)
    old = time.time() - 120
    for name in ("job-live.bin", "job-dead.bin", "upload-stalled.bin", "job-new.bin"):
        (tmp_path / name).write_bytes(b"x")
    for name in ("job-live.bin", "job-dead.bin", "upload-stalled.bin"):
        os.utime(tmp_path / name, (old, old))
    asked: list[list[str]] = []

    async def live(ids: list[str]) -> list[str]:
        asked.append(sorted(ids))
        return [i for i in ids if i == "live"]

    removed = asyncio.run(storage.sweep(live))
    assert sorted(p.name for p in removed) == ["job-dead.bin", "upload-stalled.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job-live.bin", "job-new.bin"]
    assert asked == [["dead", "live"]]  # only files past the grace period are looked up
