"""The gateway container's command, run outside Docker with the compose environment, against
the TF Serving test server: ready only when the labelled version is AVAILABLE, and its metrics
move when it serves a request."""

from __future__ import annotations

import os
import socket
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
from tests.deploy.test_dockerfile import dockerfile_cmd
from tests.support.tf_serving import TFServingTestServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def gateway(
    base_compose: dict[str, Any], serving: TFServingTestServer, model_base: Path, tmp_path: Path
) -> Iterator[str]:
    env = {k: v for k, v in base_compose["services"]["api"]["environment"].items() if v != ""}
    env.update(
        TF_SERVING_URL=serving.url,  # "http://tfserving:8501" inside compose
        MODEL_BASE_PATH=str(model_base),  # "/app/models" inside the container
        READY_CACHE_SECONDS="0",
        PYTHONPATH=str(PROJECT_ROOT),
        PATH=os.environ["PATH"],
    )
    port = free_port()
    command = dockerfile_cmd()
    command[0] = str(Path(sys.executable).parent / command[0])  # the venv's uvicorn
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    log = (tmp_path / "gateway.log").open("w")
    # cwd outside the repository, so no developer's .env is read: the environment is all.
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                httpx.get(url + "/health/live", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


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
