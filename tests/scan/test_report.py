"""The reports' exact bytes (other tools read them) and the exit status of a scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.scan.errors import ScanError
from api.scan.report import Row, exit_code, print_table, write_csv, write_json

ANSWER = {
    "label": "fake",
    "verdict": "fake",
    "score": 0.75,
    "threshold": 0.5,
    "meta": {"face_frames": 3, "sampled_frames": 4},
    "provenance": {"summary": "declared_ai_generated", "c2pa": None, "xmp": None},
}


def rows() -> list[Row]:
    return [
        Row.from_answer("a/one.mp4", ANSWER, 1.23456),
        Row.failed("b.mp4", ScanError("unsupported_media", "not a video"), 0.01),
    ]


def test_csv_bytes(tmp_path: Path) -> None:
    write_csv(rows(), tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == (
        b"path,verdict,label,score,threshold,face_frames,sampled_frames,coverage,provenance,"
        b"seconds,error_code,error\r\n"
        b"a/one.mp4,fake,fake,0.75,0.5,3,4,0.75,declared_ai_generated,1.235,,\r\n"
        b"b.mp4,error,,,,,,,,0.01,unsupported_media,not a video\r\n"
    )


def test_json_bytes(tmp_path: Path) -> None:
    write_json(rows()[1:], tmp_path / "r.json")
    assert (tmp_path / "r.json").read_text() == (
        "[\n  {\n"
        '    "path": "b.mp4",\n    "verdict": "error",\n    "label": "",\n'
        '    "score": null,\n    "threshold": null,\n    "face_frames": null,\n'
        '    "sampled_frames": null,\n    "coverage": null,\n    "provenance": "",\n'
        '    "seconds": 0.01,\n'
        '    "error_code": "unsupported_media",\n    "error": "not a video"\n'
        "  }\n]\n"
    )


def test_table(tmp_path: Path) -> None:
    path = tmp_path / "table.txt"
    with path.open("w") as out:
        print_table(rows(), out)
    assert path.read_text().splitlines() == [
        "VERDICT     SCORE     FACES  SECONDS  PROVENANCE             FILE",
        "fake        0.750       3/4     1.24  declared_ai_generated  a/one.mp4",
        "error           -         -     0.01  -                      b.mp4  (unsupported_media: "
        "not a video)",
        "2 files: 1 fake, 0 real, 0 uncertain, 1 failed",
    ]


def test_an_answer_without_provenance_has_an_empty_column() -> None:
    """Gateways from before provenance answer without the key; their rows still build."""
    older = {k: v for k, v in ANSWER.items() if k != "provenance"}
    assert Row.from_answer("old.mp4", older, 0.5).provenance == ""


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        (["real", "uncertain"], 0),
        (["real", "fake"], 1),
        (["fake", "error"], 1),
        (["error", "error"], 2),
        (["real", "error"], 3),
    ],
)
def test_exit_code(verdicts: list[str], code: int) -> None:
    failure = ScanError("x", "y")
    made = [Row.failed(v, failure, 0) if v == "error" else Row(v, verdict=v) for v in verdicts]
    assert exit_code(made) == code
