"""Training history, confusion matrix and ROC curve as small PNG files.

Figures are built with matplotlib's object API (no pyplot, no GUI backend), small and at a low
DPI so that notebooks and reports committed to the repository stay light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 80


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def plot_history(
    history: Mapping[str, Sequence[float]], path: Path, best_epoch: int | None = None
) -> Path:
    """Loss and AUC per epoch, training vs validation; the kept epoch marked."""
    fig = _figure(8, 3)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "auc"), strict=True):
        for prefix, style in (("", "-o"), ("val_", "-s")):
            values = history.get(prefix + metric)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, style, label=(prefix or "train_") + metric, markersize=3)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label="kept epoch")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], path: Path, title: str) -> Path:
    """A 2x2 confusion matrix: rows truth (real, fake), columns verdict."""
    fig = _figure(3.2, 3)
    ax = fig.subplots()
    values = np.asarray(matrix)
    ax.imshow(values, cmap="Blues")
    for (row, col), count in np.ndenumerate(values):
        colour = "white" if count > values.max() / 2 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], ["real", "fake"])
    ax.set_yticks([0, 1], ["real", "fake"])
    ax.set_xlabel("verdict")
    ax.set_ylabel("truth")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    title: str = "ROC",
    points: Mapping[str, tuple[float, float]] | None = None,
) -> Path:
    """ROC curves {name: (labels, scores)} with their AUC; `points` {name: (fpr, tpr)} marked."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = _figure(4, 3.6)
    ax = fig.subplots()
    for name, (labels, scores) in curves.items():
        if len(np.unique(labels)) < 2:
            continue
        fpr, tpr, _ = roc_curve(labels, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
    for name, (fpr_point, tpr_point) in (points or {}).items():
        ax.plot([fpr_point], [tpr_point], "k.", markersize=6)
        ax.annotate(
            name, (fpr_point, tpr_point), fontsize=7, xytext=(3, -8), textcoords="offset points"
        )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false-positive rate (real called fake)")
    ax.set_ylabel("true-positive rate (fake caught)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_crops(crops: np.ndarray, path: Path, titles: Sequence[str] = (), columns: int = 8) -> Path:
    """A grid of uint8 crops (for the data notebook: what the model actually sees)."""
    rows = max(1, int(np.ceil(len(crops) / columns)))
    fig = _figure(columns * 0.9, rows * 1.0)
    axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index < len(crops):
            ax.imshow(crops[index])
            if index < len(titles):
                ax.set_title(titles[index], fontsize=6)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path
