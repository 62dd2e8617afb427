"""Folder and CSV forms, and a split that never puts one group on both sides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data import (
    Item,
    check_disjoint,
    from_csv,
    from_folder,
    load_items,
    parse_label,
    split_by_group,
    summary,
    write_csv,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_form_groups_by_subfolder_or_file(tmp_path: Path) -> None:
    touch(tmp_path / "real" / "vid1" / "f0.jpg")
    touch(tmp_path / "real" / "vid1" / "f1.jpg")
    touch(tmp_path / "real" / "clip.mp4")
    touch(tmp_path / "fake" / "swap.MP4")
    touch(tmp_path / "fake" / "notes.txt")  # neither image nor video: ignored
    items = from_folder(tmp_path, source="mine")
    assert [(i.path.name, i.label, i.group) for i in items] == [
        ("clip.mp4", 0, "real/clip"),
        ("f0.jpg", 0, "real/vid1"),
        ("f1.jpg", 0, "real/vid1"),
        ("swap.MP4", 1, "fake/swap"),
    ]
    assert {i.source for i in items} == {"mine"}


def test_folder_form_needs_both_folders(tmp_path: Path) -> None:
    touch(tmp_path / "real" / "a.jpg")
    with pytest.raises(FileNotFoundError, match="fake"):
        from_folder(tmp_path)


def test_csv_form_and_round_trip(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "file,label,group,source\nv/a.mp4,REAL,p1,ff\nv/b.mp4,FAKE?,p1,ff\nv/c.mp4,1,,dfdc\n"
    )
    items = load_items(tmp_path / "labels.csv")
    assert [(i.path, i.label, i.group, i.source) for i in items] == [
        (tmp_path / "v/a.mp4", 0, "p1", "ff"),
        (tmp_path / "v/b.mp4", 1, "p1", "ff"),
        (tmp_path / "v/c.mp4", 1, "c", "dfdc"),  # no group: the file's stem
    ]
    again = from_csv(write_csv(items, tmp_path / "out" / "copy.csv", tmp_path), tmp_path)
    assert again == items


@pytest.mark.parametrize(
    ("text", "label"), [("real", 0), ("Fake", 1), ("REAL?", 0), ("0", 0), ("1", 1)]
)
def test_parse_label(text: str, label: int) -> None:
    assert parse_label(text) == label


def test_parse_label_rejects_anything_else() -> None:
    with pytest.raises(ValueError, match="real/fake"):
        parse_label("maybe")


def many_items() -> list[Item]:
    rng = np.random.default_rng(0)
    items = []
    for source, groups in (("a", 20), ("b", 8), ("c", 3)):
        for g in range(groups):
            label = int(rng.integers(0, 2)) if source != "c" else g % 2
            for frame in range(int(rng.integers(1, 6))):
                items.append(Item(Path(f"/{source}/{g}/{frame}.jpg"), label, f"g{g}", source))
    return items


def test_split_keeps_groups_whole_and_covers_every_source() -> None:
    items = many_items()
    train, val = split_by_group(items, val_fraction=0.25, seed=1)
    assert sorted(map(str, train + val)) == sorted(map(str, items))
    check_disjoint(train, val)
    for source in ("a", "b", "c"):
        assert any(i.source == source for i in val), source
        assert any(i.source == source for i in train), source
    share = len({(i.source, i.group) for i in val}) / len({(i.source, i.group) for i in items})
    assert 0.15 < share < 0.45
    assert split_by_group(items, 0.25, seed=1) == (train, val)  # reproducible


def test_a_single_group_only_trains_and_overlaps_are_caught() -> None:
    one = [Item(Path(f"/x/{i}.jpg"), i % 2, "same", "x") for i in range(4)]
    train, val = split_by_group(one)
    assert (len(train), len(val)) == (4, 0)
    with pytest.raises(ValueError, match="both sides"):
        check_disjoint(one[:2], one[2:])


def test_summary() -> None:
    items = [Item(Path("/a"), 0, "g1", "s"), Item(Path("/b"), 1, "g1", "s")]
    assert summary(items) == {"s": {"real": 1, "fake": 1, "groups": 1}}
