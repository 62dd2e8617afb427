"""deepfake-scan: check video files and whole folders from the command line.

Runs the gateway's own pipeline in this process (the same Settings, backend and
DetectionService the server builds), or sends the files to a running gateway as jobs (--url).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import httpx
from pydantic import ValidationError

if TYPE_CHECKING:  # the pipeline is imported only when it runs: --help and --url stay quick
    from api.service import DetectionService

EXIT_OK, EXIT_FAKE, EXIT_USAGE, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# What a folder scan picks up; files named on the command line are always checked.
VIDEO_SUFFIXES = frozenset(
    {
        *(".mp4", ".m4v", ".mov", ".3gp", ".webm", ".mkv", ".avi", ".flv", ".ts", ".mts"),
        *(".m2ts", ".mpg", ".mpeg", ".vob", ".wmv", ".asf", ".ogv", ".ogg"),
    }
)

POLL_SECONDS = 0.25  # how often a remote job is asked for its progress

# Called as (frames sampled so far, frames expected or None).
FrameProgress = Callable[[int, int | None], None]


class UsageError(Exception):
    """Bad options or settings: reported like argparse's own errors (exit 2)."""


class ScanError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Row:
    """One line of the table and the reports."""

    path: str
    verdict: str = ""  # fake / real / uncertain (or the original label), "error" on failure
    label: str = ""
    score: float | None = None
    threshold: float | None = None
    face_frames: int | None = None
    sampled_frames: int | None = None
    coverage: float | None = None  # face_frames / sampled_frames
    seconds: float = 0.0
    error_code: str = ""
    error: str = ""

    @classmethod
    def from_answer(cls, path: str, answer: dict[str, Any], seconds: float) -> Row:
        meta = answer.get("meta") or {}
        faces, sampled = meta.get("face_frames"), meta.get("sampled_frames")
        return cls(
            path=path,
            verdict=answer.get("verdict") or answer.get("label") or "",
            label=answer.get("label") or "",
            score=answer.get("score"),
            threshold=answer.get("threshold"),
            face_frames=faces,
            sampled_frames=sampled,
            coverage=round(faces / sampled, 4) if faces is not None and sampled else None,
            seconds=round(seconds, 3),
        )

    @classmethod
    def failed(cls, path: str, error: ScanError, seconds: float) -> Row:
        return cls(
            path, "error", seconds=round(seconds, 3), error_code=error.code, error=error.message
        )


class Checker(Protocol):
    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]: ...


# --- in this process -------------------------------------------------------------------------
class LocalChecker:
    def __init__(
        self, service: DetectionService, fps: float, max_frames: int, operating_point: str | None
    ) -> None:
        self.service = service
        self.fps = fps
        self.max_frames = max_frames
        self.operating_point = operating_point

    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]:
        from api.errors import GatewayError
        from api.options import PredictOptions

        try:
            options = PredictOptions(self.fps, self.max_frames, self.operating_point)
            answer = await self.service.predict(path, options, on_progress=on_frames)
        except GatewayError as exc:
            raise ScanError(exc.code, exc.message) from exc
        result: dict[str, Any] = answer.model_dump(mode="json")
        return result


@asynccontextmanager
async def local_checker(args: argparse.Namespace) -> AsyncIterator[LocalChecker]:
    """The pipeline and backend, wired as the server's lifespan wires them."""
    from api.metrics import Metrics
    from api.service import build_service
    from settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"invalid settings (environment or .env): {exc}") from exc
    if args.max_frames and args.max_frames > settings.MAX_FRAMES:
        raise UsageError(
            f"--max-frames {args.max_frames} is above MAX_FRAMES={settings.MAX_FRAMES}"
        )
    async with AsyncExitStack() as stack:
        service = await build_service(settings, stack, Metrics())
        yield LocalChecker(
            service,
            args.fps or settings.DEFAULT_FPS,
            args.max_frames or settings.MAX_FRAMES,
            args.operating_point,
        )


# --- against a running gateway ---------------------------------------------------------------
class RemoteChecker:
    """Each file becomes a job (POST /jobs), followed until it ends, then deleted."""

    def __init__(self, client: httpx.AsyncClient, args: argparse.Namespace) -> None:
        self.client = client
        options = {
            "fps": args.fps,
            "max_frames": args.max_frames,
            "operating_point": args.operating_point,
        }
        self.params = {k: v for k, v in options.items() if v}
        self.timeout = args.timeout

    async def check(self, path: Path, on_frames: FrameProgress) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        job = await self._submit(path, deadline)
        try:
            return await self._follow(job["id"], on_frames, deadline)
        finally:
            # Frees the server's memory at once, and cancels the job if we stopped early.
            with suppress(httpx.HTTPError):
                await self.client.delete(f"/jobs/{job['id']}")

    async def _submit(self, path: Path, deadline: float) -> dict[str, Any]:
        while True:
            with path.open("rb") as f:
                response = await self._call(
                    "POST", "/jobs", params=self.params, files={"file": (path.name, f)}
                )
            retry_after = response.headers.get("Retry-After", "")
            if response.status_code == 503 and retry_after.isdigit():
                if time.monotonic() + int(retry_after) > deadline:
                    raise _error_of(response)
                await asyncio.sleep(int(retry_after))  # the server asked us to come back
                continue
            if response.status_code != 202:
                raise _error_of(response)
            job: dict[str, Any] = response.json()
            return job

    async def _follow(
        self, job_id: str, on_frames: FrameProgress, deadline: float
    ) -> dict[str, Any]:
        while True:
            response = await self._call("GET", f"/jobs/{job_id}")
            if response.status_code != 200:
                raise _error_of(response)
            job = response.json()
            progress = job["progress"]
            on_frames(progress["frames"], progress["expected_frames"])
            if job["status"] == "done":
                answer: dict[str, Any] = job["result"]
                return answer
            if job["status"] in ("failed", "cancelled"):
                error = job.get("error") or {}
                raise ScanError(
                    error.get("code", job["status"]), error.get("error", f"job {job['status']}")
                )
            if time.monotonic() > deadline:
                raise ScanError("timeout", "no answer within --timeout seconds")
            await asyncio.sleep(POLL_SECONDS)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ScanError("unreachable", f"{self.client.base_url}: {exc!r}") from exc


def _error_of(response: httpx.Response) -> ScanError:
    try:
        body = response.json()
        return ScanError(str(body["code"]), str(body["error"]))
    except (ValueError, KeyError, TypeError):
        return ScanError(f"http_{response.status_code}", response.text[:200])


@asynccontextmanager
async def remote_checker(args: argparse.Namespace) -> AsyncIterator[RemoteChecker]:
    token = args.token or os.environ.get("DEEPFAKE_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(60.0, connect=10.0)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=timeout) as client:
        yield RemoteChecker(client, args)


# --- progress on stderr ----------------------------------------------------------------------
class ProgressBar:
    """A redrawn line on a terminal; one line per finished file otherwise (logs, CI)."""

    WIDTH = 24

    def __init__(self, stream: TextIO, total: int, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.tty = enabled and stream.isatty()
        self.index = 0
        self.name = ""
        self.frames = ""
        self._lock = threading.Lock()  # frame updates come from pipeline threads

    def start(self, index: int, path: str) -> None:
        with self._lock:
            self.index, self.name, self.frames = index, path, ""
            self._draw()

    def update(self, done: int, expected: int | None) -> None:
        with self._lock:
            self.frames = f"{done}/{expected} frames" if expected else f"{done} frames"
            self._draw()

    def finish(self, row: Row) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.tty:
                self.stream.write("\r\033[K")
            outcome = f"{row.error_code}: {row.error}" if row.error else _score_text(row)
            self.stream.write(
                f"[{self.index}/{self.total}] {row.verdict:<9} {outcome}  {row.path}\n"
            )
            self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        filled = round(self.WIDTH * (self.index - 1) / max(1, self.total))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r\033[K[{bar}] {self.index}/{self.total} {self.frames}  {self.name}")
        self.stream.flush()


def _score_text(row: Row) -> str:
    return "-" if row.score is None else f"{row.score:.3f}"


# --- the table and the reports ---------------------------------------------------------------
def print_table(rows: Sequence[Row], out: TextIO) -> None:
    out.write(f"{'VERDICT':<10} {'SCORE':>6} {'FACES':>9} {'SECONDS':>8}  FILE\n")
    for r in rows:
        faces = f"{r.face_frames}/{r.sampled_frames}" if r.sampled_frames is not None else "-"
        line = f"{r.verdict:<10} {_score_text(r):>6} {faces:>9} {r.seconds:>8.2f}  {r.path}"
        if r.error:
            line += f"  ({r.error_code}: {r.error})"
        out.write(line + "\n")
    counts = {v: sum(r.verdict == v for r in rows) for v in ("fake", "real", "uncertain", "error")}
    out.write(
        f"{len(rows)} files: {counts['fake']} fake, {counts['real']} real, "
        f"{counts['uncertain']} uncertain, {counts['error']} failed\n"
    )


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(Row)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def write_json(rows: Sequence[Row], path: Path) -> None:
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", encoding="utf-8")


def exit_code(rows: Sequence[Row]) -> int:
    if all(r.error for r in rows):
        return EXIT_USAGE  # nothing could be checked: a wrong URL, token or input
    if any(r.verdict == "fake" for r in rows):
        return EXIT_FAKE
    return EXIT_SOME_FAILED if any(r.error for r in rows) else EXIT_OK


# --- files -----------------------------------------------------------------------------------
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
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if all_files or Path(name).suffix.lower() in VIDEO_SUFFIXES:
                yield Path(root) / name


# --- the command -----------------------------------------------------------------------------
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


async def scan(args: argparse.Namespace, files: list[Path], bar: ProgressBar) -> list[Row]:
    rows: list[Row] = []
    opener = remote_checker if args.url else local_checker
    async with opener(args) as checker:
        for index, path in enumerate(files, 1):
            bar.start(index, str(path))
            started = time.perf_counter()
            try:
                answer = await checker.check(path, bar.update)
                row = Row.from_answer(str(path), answer, time.perf_counter() - started)
            except ScanError as exc:
                row = Row.failed(str(path), exc, time.perf_counter() - started)
            rows.append(row)
            bar.finish(row)
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
    bar = ProgressBar(sys.stderr, len(files), enabled=not args.quiet)
    try:
        rows = asyncio.run(scan(args, files, bar))
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


if __name__ == "__main__":
    sys.exit(main())
