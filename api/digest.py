"""A content digest of a model version, so every answer names the exact model behind it."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from api.contract import TFLITE_FILE

# What defines the model's behaviour; assets.extra (warm-up requests) and the card do not.
MODEL_FILES = ("saved_model.pb", "variables")
OPTIONAL_FILES = (TFLITE_FILE,)  # what LiteRT runs in-process, when the version has it


@lru_cache(maxsize=16)
def model_digest(model_dir: Path) -> str | None:
    """sha256 over the graph, the variables and the .tflite if any (names and bytes, in a fixed
    order); None when the version is not on this machine (e.g. only TF Serving has it)."""
    files = []
    for name in MODEL_FILES:
        path = model_dir / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not all(f.is_file() for f in files) or not files:
        return None
    files += [model_dir / name for name in OPTIONAL_FILES if (model_dir / name).is_file()]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(model_dir).as_posix().encode() + b"\0")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return f"sha256:{digest.hexdigest()}"
