"""One row per file: the table on stdout, the CSV and JSON reports, and the exit status."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TextIO

from api.scan.errors import ScanError

EXIT_OK, EXIT_FAKE, EXIT_USAGE, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SUMMARY_WIDTH = len("declared_ai_generated")  # the longest provenance summary


@dataclass
class Row:
    """One line of the table and the reports; the field order is the CSV's column order."""

    path: str
    verdict: str = ""  # fake / real / uncertain (or the original label), "error" on failure
    label: str = ""
    score: float | None = None
    threshold: float | None = None
    face_frames: int | None = None
    sampled_frames: int | None = None
    coverage: float | None = None  # face_frames / sampled_frames
    provenance: str = ""  # provenance.summary, e.g. declared_ai_generated ("" without one)
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
            # Older gateways answer without provenance.
            provenance=(answer.get("provenance") or {}).get("summary") or "",
            seconds=round(seconds, 3),
        )

    @classmethod
    def failed(cls, path: str, error: ScanError, seconds: float) -> Row:
        return cls(
            path, "error", seconds=round(seconds, 3), error_code=error.code, error=error.message
        )


def score_text(row: Row) -> str:
    return "-" if row.score is None else f"{row.score:.3f}"


def outcome_text(row: Row) -> str:
    """The score, or why there is none: what the progress says of a finished file."""
    return f"{row.error_code}: {row.error}" if row.error else score_text(row)


def print_table(rows: Sequence[Row], out: TextIO) -> None:
    # Plain text, not a rich table: scripts split these lines on whitespace.
    out.write(
        f"{'VERDICT':<10} {'SCORE':>6} {'FACES':>9} {'SECONDS':>8}  {'PROVENANCE':<{SUMMARY_WIDTH}}"
        "  FILE\n"
    )
    for r in rows:
        faces = f"{r.face_frames}/{r.sampled_frames}" if r.sampled_frames is not None else "-"
        line = (
            f"{r.verdict:<10} {score_text(r):>6} {faces:>9} {r.seconds:>8.2f}  "
            f"{r.provenance or '-':<{SUMMARY_WIDTH}}  {r.path}"
        )
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
