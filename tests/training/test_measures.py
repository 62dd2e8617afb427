"""Measures and thresholds against values worked out by hand on eight fixed scores.

labels  0    0    0     0    1    1     1    1
scores  0.1  0.4  0.35  0.8  0.9  0.65  0.3  0.7

AUC: fake > real pairs: 0.9 beats 4, 0.65 beats 3, 0.3 beats 1, 0.7 beats 3 -> 11/16.
At 0.5: TN 3 (0.1, 0.4, 0.35), FP 1 (0.8), FN 1 (0.3), TP 3 -> accuracy 0.75, F1 0.75.
Youden J: best at 0.65 (TPR 0.75 - FPR 0.25 = 0.5).
"""

from __future__ import annotations

import numpy as np
import pytest

from training import measures

LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.65, 0.3, 0.7])


def test_auc() -> None:
    assert measures.auc(LABELS, SCORES) == pytest.approx(11 / 16)
    assert measures.auc([0, 0], [0.1, 0.2]) is None  # undefined with one class


def test_at_threshold() -> None:
    m = measures.at_threshold(LABELS, SCORES, 0.5)
    assert m["confusion"] == [[3, 1], [1, 3]]
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx(0.75)
    assert m["precision"] == pytest.approx(0.75)
    assert (m["tpr"], m["fpr"]) == (pytest.approx(0.75), pytest.approx(0.25))
    assert (m["n"], m["n_real"], m["n_fake"]) == (8, 4, 4)


def test_fake_at_or_above_the_threshold_as_the_gateway_decides() -> None:
    m = measures.at_threshold(LABELS, SCORES, 0.65)
    assert m["confusion"] == [[3, 1], [0 + 1, 3]]  # 0.65 itself counts as fake


def test_thresholds() -> None:
    assert measures.youden_threshold(LABELS, SCORES) == pytest.approx(0.65)
    assert measures.threshold_for_fpr(LABELS, SCORES, 0.01) == pytest.approx(0.9)
    assert measures.threshold_for_fpr(LABELS, SCORES, 0.25) == pytest.approx(0.65)
    points = measures.operating_points(LABELS, SCORES)
    assert set(points) == {"fpr1", "fpr5", "fpr10", "balanced"}
    assert points["fpr1"] == {"threshold": pytest.approx(0.9), "fpr": 0.0, "tpr": 0.25}
    assert points["balanced"]["threshold"] == pytest.approx(0.65)
    assert points["balanced"]["fpr"] == pytest.approx(0.25)


def test_uncertainty_band() -> None:
    # Fake side: TPR/(TPR+FPR) >= 0.9 first at 0.9 (0.25/0.25); at 0.8 it is 0.5.
    # Real side: (1-FPR)/((1-FPR)+(1-TPR)) >= 0.9 first at 0.3 (0.25/0.25); at 0.35 it is 0.5.
    assert measures.uncertainty_band(LABELS, SCORES, 0.65) == pytest.approx((0.3, 0.9))
    # Perfectly separated scores: the band shrinks to the threshold's neighbours.
    low, high = measures.uncertainty_band(
        np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), 0.8
    )
    assert (low, high) == pytest.approx((0.8, 0.8))


def test_per_item_means_and_video_report() -> None:
    scores = np.array([0.2, 0.4, 0.9, 0.1, 0.6])
    item = np.array([0, 0, 1, 2, 2])
    item_labels = np.array([0, 1, 1], np.int8)
    ids, labels, means = measures.per_item(scores, item, item_labels)
    assert ids.tolist() == [0, 1, 2]
    assert labels.tolist() == [0, 1, 1]
    assert means == pytest.approx([0.3, 0.9, 0.35])
    is_video = np.array([True, False, True])
    report = measures.report(scores, item, item_labels, is_video, 0.34, np.array(["a", "b", "a"]))
    assert report["frame"]["n"] == 5
    assert report["video"]["n"] == 2  # item 1 is an image: frame level only
    assert report["video"]["confusion"] == [[1, 0], [0, 1]]  # 0.3 real, 0.35 fake
    assert report["per_source"]["b"]["n"] == 1


def test_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="labels"):
        measures.at_threshold([0, 1], [0.5], 0.5)
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        measures.at_threshold([0, 2], [0.5, 0.5], 0.5)
