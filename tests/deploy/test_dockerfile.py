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


def image_env() -> dict[str, str]:
    """The ENV of the final stage (the image that runs), as KEY=VALUE pairs."""
    ops = instructions()
    final = ops[max(i for i, (op, _) in enumerate(ops) if op == "FROM") :]
    env: dict[str, str] = {}
    for op, args in final:
        if op == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


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


def test_runs_the_one_entry_point_on_every_interface() -> None:
    # Not the deepfake-serve script: `poetry sync --no-root` does not install the project.
    assert dockerfile_cmd() == ["python", "-m", "api.server"]
    env = image_env()
    assert env["HOST"] == "0.0.0.0"
    assert env.get("PORT", "8000") == "8000"  # what EXPOSE and the HEALTHCHECK use
    assert "--no-root" in next(a for op, a in instructions() if op == "RUN" and "sync" in a)


def test_image_caps_malloc_arenas_in_the_environment() -> None:
    # glibc reads it at start-up: an ENV of the image, not a setting the app could read later.
    assert image_env()["MALLOC_ARENA_MAX"] == "2"


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


def test_the_job_directory_belongs_to_the_gateway_user() -> None:
    """A fresh named volume copies the owner of the image's directory it is mounted on: made
    by root and left so, the non-root gateway and workers could not write job uploads."""
    ops = instructions()
    final = ops[max(i for i, (op, _) in enumerate(ops) if op == "FROM") :]
    compose = (PROJECT_ROOT / "docker-compose.yml").read_text()
    runs = [
        (i, args)
        for i, (op, args) in enumerate(final)
        if op == "RUN" and "/var/lib/deepfake/jobs" in args
    ]
    ((index, command),) = runs
    assert "/var/lib/deepfake/jobs" in compose  # the JOB_STORAGE_DIR compose mounts
    assert re.search(
        r"install -d -o gateway -g gateway -m 07[0-7]0 /var/lib/deepfake/jobs", command
    )
    useradd = next(i for i, (op, args) in enumerate(final) if op == "RUN" and "useradd" in args)
    user = max(i for i, (op, _) in enumerate(final) if op == "USER")
    assert useradd < index < user  # the user exists, and root still runs the RUN
