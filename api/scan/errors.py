"""The two ways a scan goes wrong: the whole command (usage) or one file."""

from __future__ import annotations


class UsageError(Exception):
    """Bad options or settings: reported like argparse's own errors (exit 2)."""


class ScanError(Exception):
    """One file could not be checked; the scan goes on and reports it in its row."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
