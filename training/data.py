"""Labelled media (images or videos) in two forms, and a train/validation split by group.

Folder form, the common way FF++, Celeb-DF or DFDC frames are brought::

    root/real/<files>            root/fake/<files>
    root/real/<group>/<files>    root/fake/<group>/<files>   (frames of one video or person)

A file directly under real/ or fake/ is its own group (a video is its own group; for still
frames that means no identity is known: put each video's frames in a subfolder).

CSV form: columns `file` (or `path`), `label` and optionally `group` and `source`. Files are
relative to the CSV's folder unless `root` is given. Labels are real/fake (any case, a trailing
"?" as in "REAL?" is accepted) or 0/1 (1 = fake).

The split keeps every group on one side (frames of a video or photos of a person never straddle
train and validation) and takes a share of the groups of every source and label.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.crops import is_image, is_video

LABELS = {"real": 0, "fake": 1}


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled image or video."""

    path: Path
    label: int  # 0 real, 1 fake
    group: str  # identity or source video: never split across train and validation
    source: str = "data"  # the dataset or generator it came from, for per-source metrics


def parse_label(value: str) -> int:
    text = value.strip().lower().rstrip("?")
    if text in LABELS:
        return LABELS[text]
    if text in {"0", "1"}:
        return int(text)
    raise ValueError(f"label must be real/fake or 0/1, got {value!r}")


def from_folder(root: Path, source: str | None = None) -> list[Item]:
    """Items from `root/real/**` and `root/fake/**` (images and videos, sorted)."""
    items: list[Item] = []
    for name, label in LABELS.items():
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{root} needs real/ and fake/ folders; {folder} is missing")
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or not (is_image(path) or is_video(path)):
                continue
            relative = path.relative_to(folder)
            group = relative.parts[0] if len(relative.parts) > 1 else path.stem
            items.append(Item(path, label, f"{name}/{group}", source or root.name))
    if not items:
        raise ValueError(f"no images or videos under {root}/real or {root}/fake")
    return items


def from_csv(csv_path: Path, root: Path | None = None) -> list[Item]:
    """Items listed in a CSV with columns file|path, label[, group][, source]."""
    base = root if root is not None else csv_path.parent
    items = []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row.get("file") or row.get("path")
            if not name:
                raise ValueError(f"{csv_path}: every row needs a file (or path) column")
            path = base / name
            items.append(
                Item(
                    path=path,
                    label=parse_label(row["label"]),
                    group=row.get("group") or path.stem,
                    source=row.get("source") or csv_path.stem,
                )
            )
    if not items:
        raise ValueError(f"{csv_path} lists no files")
    return items


def load_items(location: Path, root: Path | None = None) -> list[Item]:
    """A CSV file or a folder with real/ and fake/."""
    return from_csv(location, root) if location.is_file() else from_folder(location)


def write_csv(items: Iterable[Item], csv_path: Path, root: Path) -> Path:
    """The CSV form of `items`, with files relative to `root`."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "group", "source"])
        for item in items:
            name = "real" if item.label == 0 else "fake"
            writer.writerow([item.path.relative_to(root).as_posix(), name, item.group, item.source])
    return csv_path


def split_by_group(
    items: Sequence[Item], val_fraction: float = 0.25, seed: int = 0
) -> tuple[list[Item], list[Item]]:
    """(train, validation): whole groups, about `val_fraction` of the groups of every stratum.

    A stratum is a source and the kind of its groups: all real, all fake, or mixed (an identity
    with real and fake photos). Counting groups rather than files keeps validation diverse on
    small sets: 4 clips of one source image count as one group, not as 4 of 15 fakes. A stratum
    of one group only trains; every other one keeps at least one group on each side.
    """
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    labels_of: dict[tuple[str, str], set[int]] = {}
    for item in items:
        labels_of.setdefault((item.source, item.group), set()).add(item.label)
    strata: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, labels in sorted(labels_of.items()):
        kind = "mixed" if len(labels) > 1 else ("fake" if labels == {1} else "real")
        strata.setdefault((key[0], kind), []).append(key)
    chosen: set[tuple[str, str]] = set()
    for groups in strata.values():
        if len(groups) < 2:
            continue
        count = min(len(groups) - 1, max(1, round(len(groups) * val_fraction)))
        picked = rng.permutation(len(groups))[:count]
        chosen.update(groups[i] for i in picked)
    train = [i for i in items if (i.source, i.group) not in chosen]
    val = [i for i in items if (i.source, i.group) in chosen]
    check_disjoint(train, val)
    return train, val


def check_disjoint(train: Sequence[Item], val: Sequence[Item]) -> None:
    """Raise when a group appears on both sides of a split."""
    shared = {(i.source, i.group) for i in train} & {(i.source, i.group) for i in val}
    if shared:
        raise ValueError(f"groups on both sides of the split: {sorted(shared)[:5]}")


def summary(items: Sequence[Item]) -> dict[str, dict[str, int]]:
    """{source: {"real": n, "fake": n, "groups": n}} for reports and the model card."""
    out: dict[str, dict[str, int]] = {}
    for source in sorted({item.source for item in items}):
        part = [item for item in items if item.source == source]
        labels = Counter(item.label for item in part)
        out[source] = {
            "real": labels[0],
            "fake": labels[1],
            "groups": len({item.group for item in part}),
        }
    return out
