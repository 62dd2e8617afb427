"""A training run -> a servable version: SavedModel, validation report, thresholds, model card.

Every number in the card is measured on the exported SavedModel itself (its serving_default),
on the run's validation crops: whole groups (identities, source videos) the model never saw.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from api.contract import DEFAULT_CROP_SIZE, DEFAULT_SIGNATURE, TFLITE_FILE, to_model_input
from training import measures, plots
from training.card import INPUT_CONTRACT, INTENDED_USE, code_version, today, write_card
from training.crops import is_video
from training.cropset import CropSet, Extraction, cached, pipeline_fingerprint
from training.data import from_csv, summary
from training.saved_model import export_saved_model, version_of
from training.signatures import (
    check_signatures,
    described_signatures,
    run_signature,
    signature_differences,
)
from training.sources import DEFAULT_CAPS, LIMITATIONS, SOURCE_NOTES
from training.train import BLEND, validation_arrays

THRESHOLD_METHOD = (
    "Youden's J (max TPR - FPR) on frame-level validation scores of real and labelled fake "
    "crops (self-blends excluded); applied by the gateway to the video score (mean of frames)"
)
BAND_METHOD = (
    "low: highest threshold <= the decision threshold below which 'real' verdicts had a "
    "class-balanced negative predictive value >= {r:.0%} on frame-level validation scores; "
    "high: lowest threshold >= it above which 'fake' verdicts had a class-balanced precision "
    ">= {r:.0%}. 0 or 1 where no threshold qualifies. Scores inside [low, high] are unsure."
)
OPERATING_POINTS_METHOD = (
    "fprN: lowest threshold whose false-positive rate on frame-level validation scores is <= N%; "
    "balanced: Youden's J. fpr/tpr are the rates measured there."
)


def validate(loaded: Any, val: CropSet, threshold: float | None = None) -> dict[str, Any]:
    """Scores, thresholds and the report of a SavedModel on validation crops."""
    scores = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(val.crops))
    labels = val.labels.astype(np.int64)
    if threshold is None:
        threshold = measures.youden_threshold(labels, scores)
    videos = np.array([is_video(Path(p)) for p in val.paths])
    result = measures.report(scores, val.item, val.item_labels, videos, threshold, val.sources)
    return {
        "scores": scores,
        "labels": labels,
        "threshold": threshold,
        "operating_points": measures.operating_points(labels, scores),
        "uncertainty_band": list(measures.uncertainty_band(labels, scores, threshold)),
        "report": result,
        "videos": videos,
    }


def self_blend_check(loaded: Any, val: CropSet, seed: int) -> dict[str, Any]:
    """AUC of validation reals vs one fixed self-blend of each: has the blend signal been
    learned at all (an in-distribution check, not a measure on real manipulations)."""
    crops, labels, kinds = validation_arrays(val.select(val.labels == 0), True, seed)
    scores = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(crops))
    return {
        "auc": measures.auc(labels, scores),
        "n_real": int((labels == 0).sum()),
        "n_blended": int((kinds == BLEND).sum()),
        "labels": labels,
        "scores": scores,
    }


def fresh_validation(
    run_dir: Path, root: Path, cache: Path, workers: int = 1, fps: float | None = None
) -> CropSet:
    """The run's validation items cropped by today's pipeline code (cached)."""
    run = json.loads((run_dir / "run.json").read_text())
    items = from_csv(run_dir / "validation.csv", root)
    settings = Extraction(target_fps=fps or run.get("fps", Extraction().target_fps))
    return cached(items, cache, settings, workers=workers)


def data_description(run_dir: Path) -> dict[str, Any]:
    train_items = from_csv(run_dir / "train.csv")
    val_items = from_csv(run_dir / "validation.csv")
    sources = sorted({i.source for i in train_items} | {i.source for i in val_items})
    return {
        "sources": {s: SOURCE_NOTES.get(s, "not described") for s in sources},
        "selection": f"training.sources: random subsets capped at {DEFAULT_CAPS} items; videos "
        "sampled at 4 fps (at most 256 frames), largest Haar face per frame; training skips "
        "crops whose largest box is not the cascade's most confident one",
        "train_items": summary(train_items),
        "validation_items": summary(val_items),
    }


def save_reports(
    reports: Path,
    run_dir: Path,
    checked: dict[str, Any],
    blend: dict[str, Any],
    val: CropSet,
) -> None:
    """history / confusion / ROC PNGs and the full validation report as JSON."""
    reports.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "history.png", reports / "history.png")
    shutil.copy(run_dir / "run.json", reports / "training_run.json")
    report = checked["report"]
    threshold = checked["threshold"]
    plots.plot_confusion(
        report["frame"]["confusion"],
        reports / "confusion_frame.png",
        f"validation frames, threshold {threshold:.3f}",
    )
    if report["video"] is not None:
        plots.plot_confusion(
            report["video"]["confusion"],
            reports / "confusion_video.png",
            f"validation videos, threshold {threshold:.3f}",
        )
    ids, video_labels, video_scores = measures.per_item(
        checked["scores"], val.item, val.item_labels
    )
    videos = checked["videos"][ids]
    points = {k: (v["fpr"], v["tpr"]) for k, v in checked["operating_points"].items()}
    plots.plot_roc(
        {
            "frames": (checked["labels"], checked["scores"]),
            "videos (mean score)": (video_labels[videos], video_scores[videos]),
            "self-blends of val reals": (blend["labels"], blend["scores"]),
        },
        reports / "roc.png",
        "validation ROC",
        points=points,
    )
    (reports / "validation_report.json").write_text(json.dumps(report, indent=2) + "\n")


def export_run(
    run_dir: Path,
    out_dir: Path,
    *,
    model_name: str = "deepfake",
    reports: Path | None = None,
    extra: dict[str, Any] | None = None,
    val: CropSet | None = None,
) -> dict[str, Any]:
    """Export the run's model to `out_dir`, validate it there and write its model card.

    `val`: validation crops cut afresh (see `fresh_validation`); default: the crops the run
    saved, cut by the pipeline code of training time.
    """
    import keras
    import tensorflow as tf

    run = json.loads((run_dir / "run.json").read_text())
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    export_saved_model(model, out_dir, model_name=model_name)
    loaded = tf.saved_model.load(str(out_dir))
    fresh = val is not None
    val = val if val is not None else CropSet.load(run_dir / "validation.npz")
    differences = signature_differences(loaded, val.crops[:512], out_dir / TFLITE_FILE)
    check_signatures(differences)
    checked = validate(loaded, val)
    blend = self_blend_check(loaded, val, run["config"]["seed"])
    if reports is not None:
        save_reports(reports, run_dir, checked, blend, val)
    card = build_card(
        model_name, version_of(out_dir), model, run, checked, blend, differences, run_dir
    )
    card["validation"]["crops"] = (
        f"cut afresh at export by the gateway pipeline of this code version (fingerprint "
        f"{pipeline_fingerprint()})"
        if fresh
        else "as saved by the training run"
    )
    card.update(extra or {})
    write_card(out_dir, card)
    return card


def build_card(
    name: str,
    version: int,
    model: Any,
    run: dict[str, Any],
    checked: dict[str, Any],
    blend: dict[str, Any],
    differences: dict[str, float],
    run_dir: Path,
) -> dict[str, Any]:
    config = run["config"]
    return {
        "name": name,
        "version": version,
        "created": today(),
        "trained": True,
        "status": "research reference model (non-commercial: see training_data)",
        "threshold": checked["threshold"],
        "threshold_method": THRESHOLD_METHOD,
        "operating_points": checked["operating_points"],
        "operating_points_method": OPERATING_POINTS_METHOD,
        "uncertainty_band": checked["uncertainty_band"],
        "uncertainty_band_method": BAND_METHOD.format(r=measures.RELIABILITY),
        "architecture": {
            "name": config["arch"],
            "keras_name": model.name,
            "parameters": int(model.count_params()),
            "input_size": DEFAULT_CROP_SIZE,
            "head": "global average pooling, dropout 0.3, dense(1, sigmoid)",
            "initialisation": "from scratch (no ImageNet weights can be downloaded here)",
        },
        "input": INPUT_CONTRACT,
        "signatures": described_signatures(differences, min(512, len(checked["scores"]))),
        "training": {
            "loss": "binary cross-entropy",
            "optimizer": f"Adam, learning rate {config['learning_rate']}",
            "class_balance": "imbalanced-learn RandomOverSampler on each epoch's rows",
            "self_blended_fakes": config["self_blend"],
            "labelled_fakes": config["real_fakes"],
            "blend_share_of_fakes": config["blend_share"] if config["real_fakes"] else 1.0,
            "early_stopping": f"validation AUC (incl. fixed self-blends), patience "
            f"{config['patience']}, best epoch's weights kept",
            "config": config,
            "epochs_run": run["epochs_run"],
            "best_epoch": run["best_epoch"],
            "train_seconds": run["train_seconds"],
            "device": run.get("device", "unknown"),
        },
        "training_data": data_description(run_dir),
        "split": (
            "by group, never by frame: about a quarter of the groups of every source and label "
            "kind (all-real, all-fake, or mixed groups) go to validation (training.data."
            "split_by_group, seed 0). Groups: identity (CelebA, the four public figures), source "
            "person or source image (video clips), the file itself where no identity is known "
            "(FFHQ, UTKFace, generated faces). The published per-frame train/val/test column of "
            "the FLUX portraits is ignored (frames of one video would straddle it)."
        ),
        "validation": {
            "note": "measured on the exported SavedModel; frames sampled at the training fps; "
            "every crop the gateway would score (no filtering of doubtful face boxes)",
            **checked["report"],
            "self_blend_auc": {k: blend[k] for k in ("auc", "n_real", "n_blended")},
        },
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
        "code_version": code_version(),
    }
