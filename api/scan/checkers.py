"""What checks one file, in this process or against a running gateway (--url)."""

from __future__ import annotations

import argparse
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the module loads OpenCV, which --help and --url do without
    from api.pipeline.extract import FrameProgress


class Checker(Protocol):
    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]:
        """The gateway's JSON answer for `path`, or ScanError; `on_frames` sees the sampling."""
        ...


def open_checker(args: argparse.Namespace) -> AbstractAsyncContextManager[Checker]:
    # Imported here: the in-process one loads the whole pipeline, which --url never needs.
    if args.url:
        from api.scan.remote import remote_checker

        return remote_checker(args)
    from api.scan.local import local_checker

    return local_checker(args)
