"""Deployment files, checked with the real tools that read them (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import compose
import httpx
import pytest

from settings import PROJECT_ROOT

COMPOSE_BIN = Path(compose.__file__).parent / "docker-compose"  # Docker Compose v2, real binary


def compose_config(*files: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """`docker compose config` as JSON: validated against the Compose schema, interpolated."""
    result = run_compose(*files, "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def run_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    files = [a for a in args if a.endswith((".yml", ".yaml"))]
    rest = [a for a in args if a not in files]
    command = [str(COMPOSE_BIN)]
    for f in files:
        command += ["-f", f]
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    return subprocess.run(
        command + rest,
        cwd=PROJECT_ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="session")
def base_compose() -> dict[str, Any]:
    return compose_config("docker-compose.yml")


@contextmanager
def gateway_process(
    command: list[str], env: dict[str, str], cwd: Path, *, port: int
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run the gateway command; yield its URL once /health/live answers, and the process.

    `env` is the whole environment and `cwd` should lie outside the repository, so that no
    developer's .env is read. The log is cwd/gateway.log.
    """
    log_path = cwd / "gateway.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    httpx.get(url + "/health/live", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "gateway did not start"
                    time.sleep(0.2)
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)
