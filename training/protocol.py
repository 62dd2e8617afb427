"""The validation protocol and the selection rule, fixed before any v2 candidate was trained.

Validation is the validation side of the committed split file (`training/splits/v2.csv`):
held-out groups of every source, the face-swap sets (`swap_*`) included. Every number is
reported per source, frame level (each crop) and video level (the mean score of an item's crops:
a video, or one image), with 95% bootstrap intervals that resample whole groups (crops of one
video are not independent draws).

Selection rule, applied once: a candidate's score is the mean over the three face-swap sources
of its frame-level validation AUC, measured on the exported model as served. The highest score
wins; within 0.01 of it, the cheaper model per crop wins. A new version ships only if its score
beats the current one's and the paired bootstrap interval of the difference lies above 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from training.cropset import CropSet
from training.measures import auc

SWAP_SOURCES = ("swap_dfdc", "swap_ffpp", "swap_mesonet")
BOOTSTRAP_ROUNDS = 1000
TIE = 0.01  # selection scores this close are equal; serving cost decides


def selection_score(frame_auc: Mapping[str, float | None]) -> float:
    """The mean frame-level AUC over the face-swap sources (the rule above)."""
    values = [frame_auc.get(source) for source in SWAP_SOURCES]
    if any(v is None for v in values):
        raise ValueError(f"every face-swap source needs an AUC, got {dict(frame_auc)}")
    return float(np.mean([v for v in values if v is not None]))


def video_scores(val: CropSet, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, mean score, item index) of every item with at least one crop."""
    items = np.unique(val.item)
    means = np.array([scores[val.item == i].mean() for i in items])
    return val.item_labels[items].astype(np.int64), means, items


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float | None],
    groups: np.ndarray,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> tuple[float, float] | None:
    """95% percentile interval of `statistic(rows)` over resamples of whole groups.

    `groups[i]` is row i's group; `statistic` gets the resampled row indices. None when too few
    resamples have a defined value (e.g. one class only)."""
    rng = np.random.default_rng(seed)
    names, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(names))]
    values = []
    for _ in range(rounds):
        picked = rng.integers(0, len(names), len(names))
        value = statistic(np.concatenate([members[g] for g in picked]))
        if value is not None:
            values.append(value)
    if len(values) < rounds // 2:
        return None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def auc_with_interval(
    labels: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
    rounds: int = BOOTSTRAP_ROUNDS,
) -> dict[str, Any]:
    value = auc(labels, scores)
    interval = bootstrap_interval(
        lambda rows: auc(labels[rows], scores[rows]), groups, rounds, seed
    )
    return {
        "auc": value,
        "ci95": interval,
        "n": len(labels),
        "n_fake": int(labels.sum()),
        "groups": len(set(groups)),
    }


def source_report(
    val: CropSet, scores: np.ndarray, seed: int = 0, rounds: int = BOOTSTRAP_ROUNDS
) -> dict[str, Any]:
    """Frame- and video-level AUC with group-bootstrap intervals, per source and overall."""
    crop_sources, crop_groups = val.crop_sources, val.crop_groups
    item_labels, item_scores, items = video_scores(val, scores)
    report: dict[str, Any] = {}
    for source in [*sorted(set(crop_sources)), "all"]:
        rows = np.ones(len(scores), bool) if source == "all" else crop_sources == source
        in_source = np.ones(len(items), bool) if source == "all" else val.sources[items] == source
        report[source] = {
            "frame": auc_with_interval(
                val.labels[rows].astype(np.int64), scores[rows], crop_groups[rows], seed, rounds
            ),
            "video": auc_with_interval(
                item_labels[in_source],
                item_scores[in_source],
                val.groups[items][in_source],
                seed,
                rounds,
            ),
        }
    report["selection_score"] = selection_score(
        {s: report[s]["frame"]["auc"] for s in SWAP_SOURCES if s in report}
    )
    return report


def paired_difference(
    val: CropSet, new: np.ndarray, old: np.ndarray, seed: int = 0, rounds: int = BOOTSTRAP_ROUNDS
) -> dict[str, Any]:
    """The selection score of `new` minus that of `old` on the same crops, with a paired
    group-bootstrap interval (both resampled with the same groups)."""
    sources, groups, labels = val.crop_sources, val.crop_groups, val.labels.astype(np.int64)

    def score_of(scores: np.ndarray, rows: np.ndarray) -> float | None:
        per_source = {}
        for source in SWAP_SOURCES:
            picked = rows[sources[rows] == source]
            per_source[source] = auc(labels[picked], scores[picked])
        if any(v is None for v in per_source.values()):
            return None
        return selection_score(per_source)

    def difference(rows: np.ndarray) -> float | None:
        a, b = score_of(new, rows), score_of(old, rows)
        return None if a is None or b is None else a - b

    everything = np.arange(len(labels))
    point = difference(everything)
    return {
        "difference": point,
        "ci95": bootstrap_interval(difference, groups, rounds, seed),
        "rule": "mean frame AUC over " + ", ".join(SWAP_SOURCES),
    }
