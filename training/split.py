"""The train/validation split, fixed in a committed file before training.

    python -m training.split ../shared/data --out training/splits/v2.csv

One row per group (source, group, side): every item of a group is on its side, whatever run
reads the file, so candidates are compared on the same validation and a later run cannot move
a group. The file is made once with `training.data.split_by_group` (about a quarter of the
groups of every source and label kind, seed 0); an item whose group the file does not list is
an error, not a silent addition to training.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from training.data import Item, check_disjoint, split_by_group
from training.sources import shared_items

TRAIN, VALIDATION = "train", "validation"
Split = dict[tuple[str, str], str]  # (source, group) -> side


def make_split(items: Sequence[Item], val_fraction: float = 0.25, seed: int = 0) -> Split:
    train, val = split_by_group(items, val_fraction, seed)
    split = {(i.source, i.group): TRAIN for i in train}
    split.update({(i.source, i.group): VALIDATION for i in val})
    return split


def write_split(split: Split, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["source", "group", "side"])
        for (source, group), side in sorted(split.items()):
            writer.writerow([source, group, side])
    return path


def read_split(path: Path) -> Split:
    split: Split = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["side"] not in (TRAIN, VALIDATION):
                raise ValueError(f"{path}: side must be {TRAIN} or {VALIDATION}, got {row}")
            key = (row["source"], row["group"])
            if key in split:
                raise ValueError(f"{path}: group {key} is listed twice")
            split[key] = row["side"]
    return split


def apply_split(items: Sequence[Item], split: Split) -> tuple[list[Item], list[Item]]:
    """(train, validation) as the file says; every item's group must be in it."""
    missing = sorted({(i.source, i.group) for i in items} - split.keys())
    if missing:
        raise ValueError(
            f"{len(missing)} groups are not in the split file, e.g. {missing[:3]}: a fixed "
            "protocol cannot place them silently; make a new split file"
        )
    train = [i for i in items if split[(i.source, i.group)] == TRAIN]
    val = [i for i in items if split[(i.source, i.group)] == VALIDATION]
    check_disjoint(train, val)
    return train, val


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the fixed split of ../shared/data.")
    parser.add_argument("root", type=Path, help="the shared data folder")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write")
    parser.add_argument("--val-fraction", type=float, default=0.25, help="share of groups")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split")
    args = parser.parse_args(argv)
    items = shared_items(args.root, seed=args.seed)
    split = make_split(items, args.val_fraction, args.seed)
    write_split(split, args.out)
    sides = Counter((source, side) for (source, _), side in split.items())
    for source in sorted({s for s, _ in sides}):
        train, val = sides[source, TRAIN], sides[source, VALIDATION]
        print(f"{source:18s} train {train:5d}  validation {val:5d}")
    print(f"wrote {args.out} ({len(split)} groups)")


if __name__ == "__main__":
    main()
