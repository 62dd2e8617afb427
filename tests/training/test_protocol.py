"""The selection rule and the group-bootstrap intervals of the validation protocol."""

from __future__ import annotations

import numpy as np
import pytest

from training.cropset import CropSet
from training.protocol import (
    SWAP_SOURCES,
    bootstrap_interval,
    paired_difference,
    selection_score,
    source_report,
)


def swap_cropset(per_group: int = 4, groups_per_label: int = 6) -> CropSet:
    """Crops of every face-swap source: a real and a fake side, several groups each."""
    paths, labels, groups, sources = [], [], [], []
    for source in SWAP_SOURCES:
        for label in (0, 1):
            for g in range(groups_per_label):
                paths.append(f"{source}/{label}/{g}.mp4")
                labels.append(label)
                groups.append(f"{label}-{g}")
                sources.append(source)
    n_items = len(paths)
    item = np.repeat(np.arange(n_items, dtype=np.int32), per_group)
    return CropSet(
        crops=np.zeros((len(item), 8, 8, 3), np.uint8),
        item=item,
        times=np.zeros(len(item), np.float32),
        confident=np.ones(len(item), bool),
        paths=np.array(paths),
        item_labels=np.array(labels, np.int8),
        groups=np.array(groups),
        sources=np.array(sources),
        sampled=np.full(n_items, per_group, np.int32),
    )


def test_selection_score_is_the_mean_over_the_swap_sources_and_needs_each() -> None:
    assert selection_score(dict(zip(SWAP_SOURCES, (0.6, 0.7, 0.8), strict=True))) == pytest.approx(
        0.7
    )
    with pytest.raises(ValueError, match="every face-swap source"):
        selection_score({SWAP_SOURCES[0]: 0.9})


def test_bootstrap_resamples_whole_groups() -> None:
    groups = np.array(["a"] * 5 + ["b"] * 5)
    seen: list[set[int]] = []

    def record(rows: np.ndarray) -> float:
        seen.append({int(r) // 5 for r in rows})
        assert len(rows) % 5 == 0  # a group comes whole or not at all
        return float(len(rows))

    interval = bootstrap_interval(record, groups, rounds=50)
    assert interval == (10.0, 10.0)
    assert {0} in seen or {1} in seen  # some resamples draw one group twice


def test_report_separable_scores_give_auc_one_per_source_and_video() -> None:
    val = swap_cropset()
    scores = val.labels.astype(np.float64) * 0.5 + 0.25
    report = source_report(val, scores, rounds=100)
    for source in SWAP_SOURCES:
        assert report[source]["frame"]["auc"] == 1.0
        assert report[source]["video"]["auc"] == 1.0
        assert report[source]["frame"]["ci95"] == (1.0, 1.0)
        assert report[source]["frame"]["groups"] == 12
    assert report["selection_score"] == 1.0


def test_paired_difference_of_a_model_with_itself_is_zero_and_of_a_better_one_positive() -> None:
    val = swap_cropset()
    rng = np.random.default_rng(0)
    noise = rng.random(len(val))
    good = val.labels * 0.3 + noise * 0.7
    same = paired_difference(val, noise, noise, rounds=100)
    assert same["difference"] == 0.0
    assert same["ci95"] == (0.0, 0.0)
    better = paired_difference(val, good, noise, rounds=100)
    assert better["difference"] > 0
    assert better["ci95"] is not None
    assert better["ci95"][1] > 0
