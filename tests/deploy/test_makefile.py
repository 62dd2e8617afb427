"""`make run`, run by the real make with a stand-in for Poetry that reports how it was called:
the one entry point, HOST and PORT passed through, MALLOC_ARENA_MAX in its environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from settings import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

# Records its arguments and the variables make must pass, then succeeds (as `poetry sync` and
# `poetry run` would) without installing or running anything.
FAKE_POETRY = """#!/bin/sh
{
  echo "args=$*"
  echo "HOST=${HOST-unset}"
  echo "PORT=${PORT-unset}"
  echo "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-unset}"
} >> "$FAKE_POETRY_LOG"
"""


def make_run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    poetry = tmp_path / "poetry"
    poetry.write_text(FAKE_POETRY)
    poetry.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    subprocess.run(
        # -o: take the installed .venv as up to date, so nothing here is rebuilt or touched.
        ["make", "--no-print-directory", "-o", ".venv/.serve", "run", f"POETRY={poetry}", *args],
        cwd=PROJECT_ROOT,
        env={**clean, "FAKE_POETRY_LOG": str(log), **(env or {})},
        check=True,
        capture_output=True,
        timeout=60,
    )
    calls = log.read_text().strip().split("args=")[1:]
    (call,) = [c for c in calls if c.startswith("run ")]  # the one `poetry run ...`
    first, *rest = call.splitlines()
    return {"args": first, **dict(line.split("=", 1) for line in rest)}


def test_make_run_serves_the_entry_point_on_loopback_by_default(tmp_path: Path) -> None:
    call = make_run(tmp_path)
    assert call["args"] == "run python -m api.server"
    assert (call["HOST"], call["PORT"]) == ("127.0.0.1", "8000")
    assert call["MALLOC_ARENA_MAX"] == "2"


def test_make_run_honours_host_and_port(tmp_path: Path) -> None:
    # Make variables and the environment alike reach the entry point as its environment (its
    # only way in: api.server takes no flags).
    call = make_run(tmp_path, "HOST=0.0.0.0", "PORT=9000")
    assert call["args"] == "run python -m api.server"
    assert (call["HOST"], call["PORT"]) == ("0.0.0.0", "9000")
    from_env = make_run(tmp_path, env={"HOST": "::1", "PORT": "9001"})
    assert (from_env["HOST"], from_env["PORT"]) == ("::1", "9001")
