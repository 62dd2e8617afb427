"""Progress on stderr: a rich display on a terminal, one plain line per file otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from api.scan.report import Row, outcome_text

VERDICT_STYLES = {"fake": "bold red", "real": "green", "uncertain": "yellow", "error": "red"}


class ScanProgress(Protocol):
    def start(self, index: int, path: str) -> None: ...

    def update(self, done: int, expected: int | None) -> None:
        """Frames sampled so far; called from pipeline threads."""
        ...

    def finish(self, row: Row) -> None: ...


@contextmanager
def open_progress(stream: TextIO, total: int, enabled: bool) -> Iterator[ScanProgress]:
    """The display suited to `stream`; a live one is taken down when the block ends."""
    if not enabled:
        yield QuietProgress()
    elif not stream.isatty():
        yield LineProgress(stream, total)
    else:
        with TerminalProgress(Console(file=stream), total) as progress:
            yield progress


def finished_line(index: int, total: int, row: Row) -> str:
    return f"[{index}/{total}] {row.verdict:<9} {outcome_text(row)}  {row.path}"


def frames_text(done: int, expected: int | None) -> str:
    return f"{done}/{expected} frames" if expected else f"{done} frames"


class QuietProgress:
    """-q: nothing at all."""

    def start(self, index: int, path: str) -> None:
        pass

    def update(self, done: int, expected: int | None) -> None:
        pass

    def finish(self, row: Row) -> None:
        pass


class LineProgress:
    """Logs and CI: a line per finished file, nothing redrawn."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.index = 0

    def start(self, index: int, path: str) -> None:
        self.index = index

    def update(self, done: int, expected: int | None) -> None:
        pass

    def finish(self, row: Row) -> None:
        self.stream.write(finished_line(self.index, self.total, row) + "\n")
        self.stream.flush()


class TerminalProgress:
    """Two live bars, the files and the current file's frames, under the finished lines."""

    def __init__(self, console: Console, total: int) -> None:
        self.total = total
        self.index = 0
        self.live = Progress(
            SpinnerColumn(),
            BarColumn(),
            TextColumn("{task.fields[count]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),  # file names may hold [brackets]
            console=console,
            transient=True,  # the finished lines stay, the bars go
            redirect_stdout=False,  # stdout carries the table and nothing else
        )
        self.files = self.live.add_task("", total=total, count=f"0/{total} files")
        self.frames: TaskID | None = None
        self._lock = threading.Lock()  # frame updates race the switch to the next file

    def __enter__(self) -> TerminalProgress:
        self.live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.live.stop()

    def start(self, index: int, path: str) -> None:
        self.index = index
        self.live.update(self.files, completed=index - 1, count=f"{index}/{self.total} files")
        with self._lock:
            if self.frames is not None:
                self.live.remove_task(self.frames)
            # A new task rather than a reset: its total must go back to unknown (a pulsing bar).
            self.frames = self.live.add_task(path, total=None, count=frames_text(0, None))

    def update(self, done: int, expected: int | None) -> None:
        with self._lock:
            if self.frames is not None:
                self.live.update(
                    self.frames, completed=done, total=expected, count=frames_text(done, expected)
                )

    def finish(self, row: Row) -> None:
        self.live.update(self.files, completed=self.index)
        line = Text(f"[{self.index}/{self.total}] ")
        line.append(f"{row.verdict:<9}", style=VERDICT_STYLES.get(row.verdict, ""))
        line.append(f" {outcome_text(row)}  {row.path}")
        self.live.console.print(line, soft_wrap=True)
