"""The Dockerfile, read instruction by instruction, and the lock file it installs from."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from settings import PROJECT_ROOT

HEAVY = {"tensorflow", "tensorflow-cpu", "keras", "tensorboard", "tf-keras", "jax"}


def instructions() -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def dockerfile_cmd() -> list[str]:
    (cmd,) = [args for op, args in instructions() if op == "CMD"]
    command: list[str] = json.loads(cmd)
    return command


def test_multi_stage_with_dependencies_before_code() -> None:
    ops = instructions()
    stages = [i for i, (op, _) in enumerate(ops) if op == "FROM"]
    assert len(stages) >= 2
    copies = [args for op, args in ops if op == "COPY"]
    lock_copy = next(i for i, c in enumerate(copies) if "poetry.lock" in c)
    code_copy = next(i for i, c in enumerate(copies) if re.match(r"^api\b", c))
    assert lock_copy < code_copy  # the dependency layer survives code changes
    install = next(args for op, args in ops if op == "RUN" and "poetry sync" in args)
    assert "--only main" in install  # no TensorFlow, no LiteRT: the model runs in TF Serving


def test_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    ops = instructions()
    final = ops[max(i for i, (op, _) in enumerate(ops) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    assert any(op == "HEALTHCHECK" and "/health/live" in args for op, args in final)
    assert dockerfile_cmd()[:3] == ["uvicorn", "api.main:create_app", "--factory"]


def locked_groups() -> dict[str, set[str]]:
    lock = tomllib.loads((PROJECT_ROOT / "poetry.lock").read_text())
    groups: dict[str, set[str]] = {}
    for package in lock["package"]:
        for group in package.get("groups", []):
            groups.setdefault(group, set()).add(package["name"])
    return groups


def test_main_dependencies_leave_tensorflow_out() -> None:
    groups = locked_groups()
    assert {"fastapi", "opencv-python-headless", "httpx", "numpy"} <= groups["main"]
    assert not groups["main"] & HEAVY
    assert "tensorflow" in groups["tensorflow"]


def test_serving_in_process_needs_no_tensorflow() -> None:
    """`make run` installs main + embedded: LiteRT serves the model without TensorFlow."""
    groups = locked_groups()
    assert "ai-edge-litert" in groups["embedded"]
    assert not (groups["main"] | groups["embedded"]) & HEAVY
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "sync --only main,embedded" in makefile


@pytest.mark.parametrize(
    "path", ["tests", "models", "training", "notebooks", "bench", ".venv", ".git"]
)
def test_dockerignore_keeps_the_context_small(path: str) -> None:
    rules = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert rules[rules.index("*") :]  # everything excluded, then only what the image needs
    assert f"!{path}" not in rules
    assert f"!{path}/" not in rules
