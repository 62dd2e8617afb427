"""The `deepfake-scan` command: its options, the scan loop, and what it prints and exits with."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from api.scan.checkers import open_checker
from api.scan.discover import VIDEO_SUFFIXES, discover
from api.scan.errors import ScanError, UsageError
from api.scan.progress import ScanProgress, open_progress
from api.scan.report import (
    EXIT_FAKE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Row,
    exit_code,
    print_table,
    write_csv,
    write_json,
)


def _fps(text: str) -> float:
    value = float(text)
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError("must be in (0, 120]")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("must start with http:// or https://")
    return text.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepfake-scan",
        description="Check videos for manipulated faces: files, or folders searched "
        "recursively. Without --url the gateway's pipeline runs in this process, configured "
        "like the server (environment variables and .env: MODEL_BASE_PATH, THRESHOLD, "
        "TF_SERVING_URL, ...); with --url each file is sent to a running gateway as a job.",
        epilog=f"Exit status: {EXIT_OK} every file checked and none judged fake; "
        f"{EXIT_FAKE} at least one file judged fake; {EXIT_USAGE} usage error, no file found, "
        f"or no file could be checked; {EXIT_SOME_FAILED} some files could not be checked "
        f"(none fake); {EXIT_INTERRUPTED} interrupted. The table goes to stdout, progress to "
        "stderr.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="video files, or folders to search recursively for videos by extension "
        f"({' '.join(sorted(VIDEO_SUFFIXES))}); hidden files and folders are skipped",
    )
    parser.add_argument(
        "--url",
        type=_url,
        help="a running gateway, e.g. http://127.0.0.1:8000; files are uploaded to its "
        "POST /jobs (default: run the pipeline in this process)",
    )
    parser.add_argument(
        "--token",
        help="bearer token for a gateway with REQUIRE_AUTH=true (default: $DEEPFAKE_TOKEN, "
        "which keeps it out of the process list)",
    )
    parser.add_argument(
        "--fps", type=_fps, help="frames sampled per second of video (default: DEFAULT_FPS)"
    )
    parser.add_argument(
        "--max-frames",
        type=_positive,
        metavar="N",
        help="at most N sampled frames per video (default and ceiling: MAX_FRAMES)",
    )
    parser.add_argument(
        "--operating-point",
        metavar="NAME",
        help="decide with the model card's threshold of that name, e.g. fpr1 (default: "
        "THRESHOLD, else the card's threshold, else 0.5)",
    )
    parser.add_argument(
        "--csv", type=Path, metavar="FILE", help="write one row per file to FILE as CSV"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write one row per file to FILE as JSON"
    )
    parser.add_argument(
        "--all-files",
        action="store_true",
        help="in folders, send every file whatever its extension (the type is read from the "
        "bytes; what is not a video is reported as an error)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="with --url, give up on a file after this long, waiting in a full queue "
        "included (default: 3600)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr (the table still prints)"
    )
    return parser


async def scan(args: argparse.Namespace, files: list[Path], progress: ScanProgress) -> list[Row]:
    """Every file in turn; one that fails becomes an error row and the scan goes on."""
    rows: list[Row] = []
    async with open_checker(args) as checker:
        for index, path in enumerate(files, 1):
            progress.start(index, str(path))
            started = time.perf_counter()
            try:
                answer = await checker.check(path, progress.update)
                row = Row.from_answer(str(path), answer, time.perf_counter() - started)
            except ScanError as exc:
                row = Row.failed(str(path), exc, time.perf_counter() - started)
            rows.append(row)
            progress.finish(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"no such file or folder: {', '.join(missing)}")
    files = discover(args.paths, args.all_files)
    if not files:
        parser.error("no video files found (name them, or use --all-files for folders)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    try:
        # The live display is taken down before any message below is written.
        with open_progress(sys.stderr, len(files), enabled=not args.quiet) as progress:
            rows = asyncio.run(scan(args, files, progress))
    except UsageError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    print_table(rows, sys.stdout)
    if args.csv:
        write_csv(rows, args.csv)
    if args.json:
        write_json(rows, args.json)
    return exit_code(rows)
