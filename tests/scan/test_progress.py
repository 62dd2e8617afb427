"""The progress on stderr: plain lines when it is not a terminal, a rich display when it is."""

from __future__ import annotations

import io
import re
import threading

from api.scan.errors import ScanError
from api.scan.progress import LineProgress, QuietProgress, TerminalProgress, open_progress
from api.scan.report import Row

DONE = Row("clips/a [1].mp4", verdict="real", score=0.5)
FAILED = Row.failed("b.mp4", ScanError("unsupported_media", "not a video"), 0.0)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def scan_two(stream: io.StringIO, enabled: bool = True) -> str:
    with open_progress(stream, 2, enabled) as progress:
        for index, row in enumerate((DONE, FAILED), 1):
            progress.start(index, row.path)
            # Frames come from pipeline threads.
            workers = [threading.Thread(target=progress.update, args=(n, 4)) for n in range(4)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            progress.update(3, None)
            progress.finish(row)
    return stream.getvalue()


EXPECTED = [
    "[1/2] real      0.500  clips/a [1].mp4",
    "[2/2] error     unsupported_media: not a video  b.mp4",
]


def test_not_a_terminal_one_line_per_file() -> None:
    assert scan_two(io.StringIO()).splitlines() == EXPECTED


def test_quiet_writes_nothing() -> None:
    assert scan_two(Terminal(), enabled=False) == ""


def test_display_suits_the_stream() -> None:
    for stream, enabled, kind in (
        (io.StringIO(), True, LineProgress),
        (Terminal(), True, TerminalProgress),
        (Terminal(), False, QuietProgress),
    ):
        with open_progress(stream, 1, enabled) as progress:
            assert isinstance(progress, kind)


def test_terminal_keeps_the_finished_lines_and_takes_the_bars_down() -> None:
    output = scan_two(Terminal())
    # Escape codes out, then what is left on the screen is what the plain lines say.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    for line in EXPECTED:
        assert line in text
    assert "\x1b[" in output  # drawn, not just printed
