"""The committed split file keeps every group on one side, and runs follow it exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import PROJECT_ROOT
from training.data import Item
from training.protocol import SWAP_SOURCES
from training.split import TRAIN, VALIDATION, apply_split, make_split, read_split, write_split

COMMITTED = PROJECT_ROOT / "training" / "splits" / "v2.csv"


def items(groups: dict[str, int], source: str = "s", per_group: int = 3) -> list[Item]:
    return [
        Item(Path(f"{source}/{group}/{k}.jpg"), label, group, source)
        for group, label in groups.items()
        for k in range(per_group)
    ]


def test_committed_split_lists_each_group_once_with_both_sides_per_swap_source() -> None:
    split = read_split(COMMITTED)  # raises on a group listed twice or an unknown side
    for source in SWAP_SOURCES:
        sides = {side for (s, _), side in split.items() if s == source}
        assert sides == {TRAIN, VALIDATION}, source
    share = sum(side == VALIDATION for side in split.values()) / len(split)
    assert 0.2 < share < 0.3


def test_written_split_reads_back_and_keeps_groups_whole(tmp_path: Path) -> None:
    data = items({f"g{i}": i % 2 for i in range(20)}) + items({"x": 0, "y": 1}, source="t")
    split = make_split(data, 0.25, seed=0)
    path = write_split(split, tmp_path / "split.csv")
    assert read_split(path) == split
    train, val = apply_split(data, read_split(path))
    assert len(train) + len(val) == len(data)
    assert {i.group for i in train}.isdisjoint({i.group for i in val})
    assert {i.group for i in val}  # some validation groups in every stratum of >1 group


def test_a_group_missing_from_the_file_is_an_error_not_a_training_item(tmp_path: Path) -> None:
    split = make_split(items({"a": 0, "b": 1, "c": 0, "d": 1}), 0.25)
    with pytest.raises(ValueError, match="not in the split file"):
        apply_split(items({"new": 1}), split)


@pytest.mark.parametrize(
    ("row", "message"),
    [("s,a,test\n", "side must be"), ("s,a,train\ns,a,validation\n", "listed twice")],
)
def test_malformed_split_files_are_refused(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "split.csv"
    path.write_text("source,group,side\n" + row)
    with pytest.raises(ValueError, match=message):
        read_split(path)
