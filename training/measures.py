"""Measures of scores against labels (AUC, accuracy, F1, confusion), and thresholds from the ROC.

Not `metrics`: in `api/` that word means Prometheus. These are the numbers users compare with
published results, and the thresholds, operating points and uncertainty band of the model card.

Conventions: label 1 = fake, score = P(fake), verdict "fake" when score >= threshold (as the
gateway decides). Video scores are the mean of the frame scores, as the gateway aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from api.pipeline.aggregate import video_score

FPR_TARGETS = {"fpr1": 0.01, "fpr5": 0.05, "fpr10": 0.10}
RELIABILITY = 0.9  # outside the uncertainty band, verdicts were right this often on validation


def _arrays(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> Any:
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    return y, s


def auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """ROC AUC; None when only one class is present (it is undefined then)."""
    from sklearn.metrics import roc_auc_score

    y, s = _arrays(labels, scores)
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, s))


def confusion(labels: np.ndarray, predicted: np.ndarray) -> list[list[int]]:
    """[[TN, FP], [FN, TP]]: rows are the truth (real, fake), columns the verdict."""
    return [
        [int(((labels == truth) & (predicted == verdict)).sum()) for verdict in (0, 1)]
        for truth in (0, 1)
    ]


def at_threshold(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> dict[str, Any]:
    """Accuracy, F1 (fake = positive), TPR, FPR and the confusion matrix at `threshold`."""
    y, s = _arrays(labels, scores)
    predicted = (s >= threshold).astype(np.int64)
    (tn, fp), (fn, tp) = confusion(y, predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "n": int(y.size),
        "n_real": int((y == 0).sum()),
        "n_fake": int((y == 1).sum()),
        "auc": auc(y, s),
        "accuracy": (tp + tn) / y.size if y.size else math.nan,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "tpr": recall,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "threshold": float(threshold),
        "confusion": [[tn, fp], [fn, tp]],
    }


def roc(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) with every distinct score as a threshold, thresholds descending
    and capped at 1.0 (scikit-learn starts with +inf: "nothing is fake")."""
    from sklearn.metrics import roc_curve

    y, s = _arrays(labels, scores)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    return fpr, tpr, np.minimum(thresholds, 1.0)


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises TPR - FPR (Youden's J): balanced, prior-free."""
    fpr, tpr, thresholds = roc(labels, scores)
    return float(thresholds[int(np.argmax(tpr - fpr))])


def threshold_for_fpr(labels: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The lowest threshold whose false-positive rate stays <= target (the most fakes caught)."""
    fpr, _, thresholds = roc(labels, scores)
    allowed = np.flatnonzero(fpr <= target + 1e-12)
    return float(thresholds[allowed[-1]])


def operating_points(labels: np.ndarray, scores: np.ndarray) -> dict[str, dict[str, float]]:
    """{"fpr1"|"fpr5"|"fpr10"|"balanced": {"threshold", "fpr", "tpr"}} measured on these scores."""
    points = {name: threshold_for_fpr(labels, scores, t) for name, t in FPR_TARGETS.items()}
    points["balanced"] = youden_threshold(labels, scores)
    out = {}
    for name, threshold in points.items():
        measured = at_threshold(labels, scores, threshold)
        out[name] = {"threshold": threshold, "fpr": measured["fpr"], "tpr": measured["tpr"]}
    return out


def uncertainty_band(
    labels: np.ndarray, scores: np.ndarray, threshold: float, reliability: float = RELIABILITY
) -> tuple[float, float]:
    """[low, high] around `threshold` outside which verdicts were reliable on these scores.

    high: the lowest threshold >= `threshold` at which "fake" verdicts (score >= t) have a
    class-balanced precision TPR / (TPR + FPR) of at least `reliability`; low: the highest
    threshold <= `threshold` at which "real" verdicts (score < t) have a class-balanced
    negative predictive value (1 - FPR) / ((1 - FPR) + (1 - TPR)) of at least `reliability`.
    Class-balanced means as if real and fake were equally common, so the band does not depend on
    the validation set's class mix. Where no threshold qualifies, the band runs to 0 or 1: no
    verdict on that side was reliable.
    """
    fpr, tpr, thresholds = roc(labels, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        fake_precision = np.where(tpr + fpr > 0, tpr / (tpr + fpr), 0.0)
        real_npv = np.where((1 - fpr) + (1 - tpr) > 0, (1 - fpr) / ((1 - fpr) + (1 - tpr)), 0.0)
    high_ok = (thresholds >= threshold) & (fake_precision >= reliability)
    low_ok = (thresholds <= threshold) & (real_npv >= reliability)
    high = float(thresholds[high_ok].min()) if high_ok.any() else 1.0
    low = float(thresholds[low_ok].max()) if low_ok.any() else 0.0
    return min(low, threshold), max(high, threshold)


def per_item(
    scores: np.ndarray, item: np.ndarray, item_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, their labels, their scores = mean frame score) for items with any crop."""
    ids = np.unique(item)
    means = np.array([video_score(scores[item == i]) for i in ids], np.float64)
    return ids, item_labels[ids].astype(np.int64), means


def report(
    scores: np.ndarray,
    item: np.ndarray,
    item_labels: np.ndarray,
    is_video: np.ndarray,
    threshold: float,
    sources: np.ndarray | None = None,
) -> dict[str, Any]:
    """Frame-level (every crop) and video-level (video items, mean score) metrics at `threshold`,
    plus frame-level metrics per source when `sources` (per item) is given."""
    labels = item_labels[item].astype(np.int64)
    out: dict[str, Any] = {"frame": at_threshold(labels, scores, threshold)}
    ids, video_labels, video_means = per_item(scores, item, item_labels)
    videos = is_video[ids]
    out["video"] = (
        at_threshold(video_labels[videos], video_means[videos], threshold) if videos.any() else None
    )
    if sources is not None:
        crop_sources = sources[item]
        out["per_source"] = {}
        for name in np.unique(crop_sources):
            mine = crop_sources == name
            out["per_source"][str(name)] = at_threshold(labels[mine], scores[mine], threshold)
    return out


ECE_BINS = 15  # equal-width bins over [0, 1], as Guo et al. (2017) report ECE


def _bin_sums(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width score bin ([i/bins, (i+1)/bins), the last one closed at 1): the number of
    crops, the sum of their labels and the sum of their scores."""
    y, s = _arrays(labels, scores)
    if bins < 1:
        raise ValueError("bins must be >= 1")
    # A score of exactly 1.0 belongs to the last bin, not to a bin of its own.
    index = np.minimum((np.clip(s, 0.0, 1.0) * bins).astype(np.int64), bins - 1)
    counts = np.bincount(index, minlength=bins)
    return counts, np.bincount(index, y, bins), np.bincount(index, s, bins)


def calibration_bins(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, bins: int = ECE_BINS
) -> list[dict[str, Any]]:
    """Per equal-width score bin: how many crops, their mean score and the share of them that
    were fake (the numbers of a reliability diagram)."""
    counts, fakes, score_sums = _bin_sums(labels, scores, bins)
    return [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "n": int(counts[b]),
            "mean_score": float(score_sums[b] / counts[b]) if counts[b] else None,
            "fake_share": float(fakes[b] / counts[b]) if counts[b] else None,
        }
        for b in range(bins)
    ]


def expected_calibration_error(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: sum over equal-width bins of (crops in bin / all crops) * |fake share - mean score|.

    0 for scores that are, bin by bin, the observed share of fakes; at most 1. NaN without
    scores. Binned ECE is biased upwards on small sets (each bin's share is itself noisy), so
    compare ECEs measured on the same crops only.
    """
    counts, fakes, score_sums = _bin_sums(labels, scores, bins)
    total = int(counts.sum())
    # n_b / N * |fakes_b / n_b - scores_b / n_b| = |fakes_b - scores_b| / N
    return float(np.abs(fakes - score_sums).sum() / total) if total else math.nan
