"""Checking files against a running gateway: each file becomes a job, followed until it ends."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # the module loads OpenCV, which --help and --url do without
    from api.pipeline.extract import FrameProgress
from api.scan.errors import ScanError

POLL_SECONDS = 0.25  # how often a remote job is asked for its progress


class RemoteChecker:
    """Each file becomes a job (POST /jobs), followed until it ends, then deleted."""

    def __init__(self, client: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.client = client
        options = {
            "fps": args.fps,
            "max_frames": args.max_frames,
            "operating_point": args.operating_point,
        }
        # Unset options are left out, so that the server's own defaults apply.
        self.params = {k: v for k, v in options.items() if v}
        self.timeout = args.timeout

    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        job = await self._submit(path, deadline)
        try:
            return await self._follow(job["id"], on_frames, deadline)
        finally:
            # Frees the server's memory at once, and cancels the job if we stopped early.
            with suppress(httpx.HTTPError):
                await self.client.delete(f"/jobs/{job['id']}")

    async def _submit(self, path: Path, deadline: float) -> dict[str, Any]:
        while True:
            with path.open("rb") as f:
                response = await self._call(
                    "POST", "/jobs", params=self.params, files={"file": (path.name, f)}
                )
            retry_after = response.headers.get("Retry-After", "")
            if response.status_code == 503 and retry_after.isdigit():
                if time.monotonic() + int(retry_after) > deadline:
                    raise error_of(response)
                await asyncio.sleep(int(retry_after))  # the server asked us to come back
                continue
            if response.status_code != 202:
                raise error_of(response)
            job: dict[str, Any] = response.json()
            return job

    async def _follow(
        self, job_id: str, on_frames: FrameProgress, deadline: float
    ) -> dict[str, Any]:
        while True:
            response = await self._call("GET", f"/jobs/{job_id}")
            if response.status_code != 200:
                raise error_of(response)
            job = response.json()
            progress = job["progress"]
            on_frames(progress["frames"], progress["expected_frames"])
            if job["status"] == "done":
                answer: dict[str, Any] = job["result"]
                return answer
            if job["status"] in ("failed", "cancelled"):
                error = job.get("error") or {}
                raise ScanError(
                    error.get("code", job["status"]), error.get("error", f"job {job['status']}")
                )
            if time.monotonic() > deadline:
                raise ScanError("timeout", "no answer within --timeout seconds")
            await asyncio.sleep(POLL_SECONDS)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ScanError("unreachable", f"{self.client.base_url}: {exc!r}") from exc


def error_of(response: httpx.Response) -> ScanError:
    """The gateway's error body ({"code", "error"}), or the status when it sent none."""
    try:
        body = response.json()
        return ScanError(str(body["code"]), str(body["error"]))
    except (ValueError, KeyError, TypeError):
        return ScanError(f"http_{response.status_code}", response.text[:200])


@asynccontextmanager
async def remote_checker(args: argparse.Namespace) -> AsyncIterator[RemoteChecker]:
    token = args.token or os.environ.get("DEEPFAKE_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(60.0, connect=10.0)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=timeout) as client:
        yield RemoteChecker(client, args)
