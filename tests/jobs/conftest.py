"""Real processes for jobs across replicas: redis-server, gateways (`python -m api.server`) and
workers (`python -m api.jobs.worker`), each with the whole environment given (cwd outside the
repository, so no .env is read)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.support.environments import gateway_env
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.videos import make_video


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s at 10 fps: several seconds of work at fps=10, so a run is caught in the middle."""
    return make_video(tmp_path_factory.mktemp("jobs-redis") / "long.mp4", seconds=30, fps=10)


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """What the processes share: a Redis, a storage directory, and their base environment."""

    redis: RedisServer
    storage: Path
    root: Path
    env: dict[str, str]
    stack: ExitStack

    def _spawn(self, name: str, command: list[str], overrides: dict[str, str]) -> Process:
        cwd = self.root / name
        cwd.mkdir(exist_ok=True)
        log = cwd / "out.log"
        out = log.open("ab")
        env = {**self.env, **overrides}
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=out)
        handle = Process(process, log)
        self.stack.callback(handle.stop)
        return handle

    def gateway(self, name: str, **overrides: str) -> Process:
        port = free_port()
        handle = self._spawn(
            name, [sys.executable, "-m", "api.server"], {"PORT": str(port), **overrides}
        )
        handle.url = f"http://127.0.0.1:{port}"
        return handle

    def worker(self, name: str, **overrides: str) -> Process:
        return self._spawn(name, [sys.executable, "-m", "api.jobs.worker"], overrides)

    def client(self) -> Redis:
        return Redis.from_url(self.redis.url)

    def storage_files(self) -> list[str]:
        return sorted(p.name for p in self.storage.iterdir())


def wait_started(*processes: Process, timeout: float = 120) -> None:
    """Gateways answer /health/live; workers have logged their metrics port."""
    deadline = time.monotonic() + timeout
    for handle in processes:
        while not _started(handle):
            assert handle.process.poll() is None, handle.log.read_text()
            assert time.monotonic() < deadline, f"not started:\n{handle.log.read_text()}"
            time.sleep(0.1)


def _started(handle: Process) -> bool:
    if not handle.url:
        return metrics_port(handle) is not None
    try:
        return httpx.get(handle.url + "/health/live", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def metrics_port(worker: Process) -> int | None:
    found = re.search(r"worker metrics on port (\d+)", worker.log.read_text(errors="replace"))
    return int(found.group(1)) if found else None


def worker_metric(worker: Process, line_start: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port(worker)}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """make(appendonly=False, **settings): a started Redis and the environment to join it."""
    with ExitStack() as stack:

        def make(*, appendonly: bool = False, **settings: str) -> Cluster:
            server = RedisServer(tmp_path / "redis", appendonly=appendonly)
            server.start()
            stack.callback(server.stop)
            storage = tmp_path / "storage"
            storage.mkdir()
            env = gateway_env(
                READY_CACHE_SECONDS="0",
                JOBS_BACKEND="redis",
                REDIS_URL=server.url,
                JOB_STORAGE_DIR=str(storage),
                UPLOAD_DIR=str(storage),
                JOB_VISIBILITY_TIMEOUT="2",
                WORKER_METRICS_PORT="0",
                **settings,
            )
            return Cluster(server, storage, tmp_path, env, stack)

        yield make


def submit(url: str, path: Path, **params: Any) -> httpx.Response:
    with path.open("rb") as f:
        files = {"file": (path.name, f, "video/mp4")}
        return httpx.post(url + "/jobs", params=params, files=files, timeout=60)


def get_job(url: str, job_id: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/jobs/{job_id}", timeout=30)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def wait_job(
    url: str, job_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(url, job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job stuck: {json.dumps(job)[:500]}"
        time.sleep(0.05)


def ended(job: dict[str, Any]) -> bool:
    return job["status"] in {"done", "failed", "cancelled"}


def running_with_frames(job: dict[str, Any]) -> bool:
    return bool(job["status"] == "running" and job["progress"]["frames"] > 0)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def holder(cluster: Cluster, job_id: str) -> int:
    """The pid of the worker running the job, from SAQ's record of it (worker id host-pid)."""
    raw = cluster.client().get(f"saq:job:deepfake-jobs:{job_id}")
    assert raw is not None
    worker_id = json.loads(raw)["worker_id"]
    return int(worker_id.rsplit("-", 1)[1])
