"""The gateway container's command, run outside Docker with the compose environment, against
the TF Serving test server: ready only when the labelled version is AVAILABLE, and its metrics
move when it serves a request."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from settings import PROJECT_ROOT
from tests.conftest import MODEL
from tests.deploy.conftest import free_port, gateway_process
from tests.deploy.test_dockerfile import dockerfile_cmd, image_env
from tests.support.tf_serving import TFServingTestServer


@pytest.fixture
def gateway(
    base_compose: dict[str, Any], serving: TFServingTestServer, model_base: Path, tmp_path: Path
) -> Iterator[str]:
    """The image's CMD with the image's ENV and the compose environment, as the container
    would get them, but on loopback and a free port."""
    compose_env = base_compose["services"]["api"]["environment"]
    env = {**image_env(), **{k: v for k, v in compose_env.items() if v != ""}}
    port = free_port()
    env.update(
        TF_SERVING_URL=serving.url,  # "http://tfserving:8501" inside compose
        MODEL_BASE_PATH=str(model_base),  # "/app/models" inside the container
        READY_CACHE_SECONDS="0",
        HOST="127.0.0.1",  # the image's 0.0.0.0 would expose the test server
        PORT=str(port),
        PYTHONPATH=str(PROJECT_ROOT),
        PATH=os.environ["PATH"],
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
