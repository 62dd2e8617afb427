"""Which files a scan checks: those named, and the videos found in the folders named."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

# What a folder scan picks up; files named on the command line are always checked.
VIDEO_SUFFIXES = frozenset(
    {
        *(".mp4", ".m4v", ".mov", ".3gp", ".webm", ".mkv", ".avi", ".flv", ".ts", ".mts"),
        *(".m2ts", ".mpg", ".mpeg", ".vob", ".wmv", ".asf", ".ogv", ".ogg"),
    }
)


def discover(paths: Sequence[Path], all_files: bool) -> list[Path]:
    """Files as given, and folders walked recursively (hidden entries skipped), each once."""
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        for candidate in _walk(path, all_files) if path.is_dir() else [path]:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _walk(folder: Path, all_files: bool) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        # Sorted in place so that os.walk descends in a stable order and skips hidden folders.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if all_files or Path(name).suffix.lower() in VIDEO_SUFFIXES:
                yield Path(root) / name
