"""Which files a folder scan picks up."""

from __future__ import annotations

from pathlib import Path

from api.scan.discover import discover


def test_folders_are_walked_in_order_hidden_skipped_each_file_once(tmp_path: Path) -> None:
    for name in ("b/z.MOV", "b/a.mp4", "a.webm", "notes.txt", ".hidden.mp4", ".cache/x.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    named = tmp_path / "b" / "a.mp4"
    found = discover([tmp_path, named, tmp_path / "notes.txt"], all_files=False)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.webm",
        "b/a.mp4",
        "b/z.MOV",
        "notes.txt",  # named on the command line: checked whatever its extension
    ]
    everything = discover([tmp_path], all_files=True)
    assert {p.name for p in everything} == {"z.MOV", "a.mp4", "a.webm", "notes.txt"}
