"""The gateway container's command, run outside Docker with the compose environment, against
the TF Serving test server: ready only when the labelled version is AVAILABLE, and its metrics
move when it serves a request."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from settings import PROJECT_ROOT
from tests.conftest import MODEL
from tests.deploy.conftest import gateway_process
from tests.deploy.test_compose import duration
from tests.deploy.test_dockerfile import dockerfile_cmd, image_env
from tests.support.environments import python_env
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.tf_serving import TFServingTestServer


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


@pytest.fixture
def gateway(
    base_compose: dict[str, Any],
    serving: TFServingTestServer,
    model_base: Path,
    tmp_path: Path,
    redis_url: str,
) -> Iterator[str]:
    """The image's CMD with the image's ENV and the compose environment, as the container
    would get them, but on loopback and a free port."""
    compose_env = base_compose["services"]["api"]["environment"]
    env = {**image_env(), **{k: v for k, v in compose_env.items() if v != ""}}
    assert env["JOBS_BACKEND"] == "redis"  # as compose runs it: jobs in Redis
    port = free_port()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    env.update(
        TF_SERVING_URL=serving.url,  # "http://tfserving:8501" inside compose
        MODEL_BASE_PATH=str(model_base),  # "/app/models" inside the container
        REDIS_URL=redis_url,  # "redis://redis:6379/0" inside compose
        JOB_STORAGE_DIR=str(jobs),  # the `jobs` volume inside compose
        READY_CACHE_SECONDS="0",
        HOST="127.0.0.1",  # the image's 0.0.0.0 would expose the test server
        PORT=str(port),
        **python_env(),
    )
    command = dockerfile_cmd()
    assert command[0] == "python"
    command[0] = sys.executable  # the venv's python
    # cwd outside the repository, so no developer's .env is read: the environment is all.
    with gateway_process(command, env, tmp_path, port=port) as (url, process):
        # Started with the image's environment, so glibc saw the arena cap.
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ
        yield url


def test_ready_follows_the_label_and_metrics_move(
    gateway: str, serving: TFServingTestServer, videos: dict[str, Path]
) -> None:
    # No "stable" label yet: not ready.
    response = httpx.get(gateway + "/health/ready", timeout=10)
    assert response.status_code == 503
    assert "Unrecognized servable version label" in response.json()["checks"]["backend"]

    serving.state.set_label(MODEL, "stable", 2)
    serving.state.set_state(MODEL, 2, "LOADING")
    response = httpx.get(gateway + "/health/ready", timeout=10)
    assert response.status_code == 503
    assert "LOADING" in response.json()["checks"]["backend"]

    serving.state.set_state(MODEL, 2, "AVAILABLE")
    response = httpx.get(gateway + "/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == "2"

    files = {"file": ("clip.mp4", videos["short"].read_bytes())}
    answer = httpx.post(gateway + "/predict", files=files, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["version"] == "2"  # the version the label pointed to answered
    metrics = httpx.get(gateway + "/metrics").text
    assert 'gateway_requests_total{method="POST",route="/predict",status="200"} 1.0' in metrics
    assert 'gateway_video_score_count{model_version="2"} 1.0' in metrics


def has_worker_module() -> bool:
    # A file check, not an import: api/jobs may still be a module where this runs.
    return (PROJECT_ROOT / "api" / "jobs" / "worker.py").is_file()


@pytest.mark.skipif(not has_worker_module(), reason="api/jobs/worker.py is not there yet")
def test_the_worker_command_serves_the_metrics_its_healthcheck_probes(
    base_compose: dict[str, Any],
    serving: TFServingTestServer,
    model_base: Path,
    tmp_path: Path,
    redis_url: str,
) -> None:
    """The worker service's command with the image's ENV and its compose environment: the
    metrics port its healthcheck (and the Kubernetes probes) use answers, and SIGTERM ends it
    within its stop_grace_period."""
    worker = base_compose["services"]["worker"]
    env = {**image_env(), **{k: v for k, v in worker["environment"].items() if v != ""}}
    port = free_port()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    serving.state.set_label(MODEL, "stable", 2)
    env.update(
        TF_SERVING_URL=serving.url,
        MODEL_BASE_PATH=str(model_base),
        REDIS_URL=redis_url,
        JOB_STORAGE_DIR=str(jobs),
        WORKER_METRICS_PORT=str(port),  # "9100" inside compose
        **python_env(),
    )
    command = list(worker["command"])
    assert command[0] == "python"
    command[0] = sys.executable
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    # The same URL as the compose healthcheck, on this test's port.
                    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "worker metrics never answered"
                    time.sleep(0.2)
            assert response.status_code == 200
            assert "# TYPE" in response.text  # Prometheus text
        finally:
            process.send_signal(signal.SIGTERM)
            grace = duration(worker["stop_grace_period"])
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail("the worker outlived its stop_grace_period: " + log_path.read_text())
