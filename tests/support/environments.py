"""Environments for real subprocesses (gateways, workers): the whole environment, so that
nothing from the developer's shell or .env leaks in."""

from __future__ import annotations

import os

from settings import PROJECT_ROOT


def python_env() -> dict[str, str]:
    """What any project process needs: the PATH, and the project importable."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(PROJECT_ROOT)}


def gateway_env(**settings: str) -> dict[str, str]:
    """A gateway or worker on the embedded v1 model, on loopback, quiet TF; `settings` added."""
    return {
        **python_env(),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "BACKEND": "embedded",
        "MODEL_VERSION": "1",
        "HOST": "127.0.0.1",
        **settings,
    }
