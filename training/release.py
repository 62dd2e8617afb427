"""A training run -> a servable version: SavedModel, validation report, thresholds, model card.

Every number in the card is measured on the exported SavedModel itself (its serving_default),
on the run's validation crops: whole groups (identities, source videos) the model never saw.

With calibration (the run's config `calibrate`, or `export_run(calibrate=True)`), the raw
network scores the validation crops first, training.calibration fits and chooses Platt or
isotonic on them, and the exported graph is the network followed by that calibration: TF
Serving and LiteRT both answer calibrated P(fake), and the thresholds, operating points and
band of the card are measured on those calibrated scores.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    TFLITE_FILE,
    crop_size_from_shape,
    to_model_input,
)
from training import measures, plots
from training.card import (
    INTENDED_USE,
    code_version,
    input_contract,
    limitations,
    today,
    uncalibrated_entry,
    write_card,
)
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

if TYPE_CHECKING:  # training.calibration imports Keras: only where a run is calibrated
    from training.calibration import Choice

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
# Largest |exported serving_default score - training.calibration's float64 map of the raw
# network's score| accepted on the same crops: float32 rounding in the network and the layer.
CALIBRATION_TOLERANCE = 1e-5
CHECK_CROPS = 512  # validation crops the signature and calibration checks run on


def validate(
    loaded: Any,
    val: CropSet,
    threshold: float | None = None,
    reliability: float = measures.RELIABILITY,
) -> dict[str, Any]:
    """Scores, thresholds and the report of a SavedModel on validation crops; the band leaves
    verdicts outside it right at least `reliability` of the time (class-balanced)."""
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
        "uncertainty_band": list(measures.uncertainty_band(labels, scores, threshold, reliability)),
        "band_reliability": reliability,
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
    settings = Extraction(
        target_fps=fps or run.get("fps", Extraction().target_fps),
        crop_size=run["config"].get("input_size", DEFAULT_CROP_SIZE),
    )
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


def raw_scores(model: Any, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The Keras model's scores [N] of uint8 crops, fed as serving_default feeds them."""
    parts = [
        np.asarray(model(to_model_input(crops[i : i + batch_size]), training=False)).reshape(-1)
        for i in range(0, len(crops), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def fit_calibration(
    model: Any, val: CropSet, seed: int, method: str | None = None
) -> tuple[Choice, np.ndarray]:
    """The calibration chosen on the raw network's validation scores (`method`: this one
    whatever the rule says), and those scores."""
    from training.calibration import choose

    scores = raw_scores(model, val.crops)
    choice = choose(scores, val.labels, val.crop_groups, seed=seed)
    if method is not None:
        note = f"{method} chosen by the caller of the export, not by the rule"
        choice = choice.instead(method, note)
    return choice, scores


def calibration_difference(loaded: Any, crops: np.ndarray, expected: np.ndarray) -> float:
    """Largest |serving_default score - the expected calibrated score| on `crops`."""
    served = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(crops))
    return float(np.abs(served - expected).max()) if len(crops) else 0.0


@dataclass(frozen=True, slots=True)
class Exported:
    model: Any  # the Keras model exported: the network, then the calibration if any
    loaded: Any  # the SavedModel as TF Serving loads it
    differences: dict[str, float]  # of the signatures and the .tflite (training.signatures)
    choice: Choice | None
    calibration_difference: float | None  # serving_default vs the calibration's float64 map


def export_checked(
    raw: Any,
    out_dir: Path,
    model_name: str,
    crops: np.ndarray,
    choice: Choice | None = None,
    raw_check: np.ndarray | None = None,
) -> Exported:
    """Export the network (followed by `choice`'s calibration); check every signature and the
    .tflite against serving_default, and serving_default against the calibration's float64 map
    of `raw_check` (the raw network's scores of `crops`).

    An isotonic map can be steep between two knots (thousands of calibrated units per raw
    unit), so float32 differences between runtimes that are harmless in raw scores can exceed
    the tolerance there; the export then falls back to the Platt fit, and the card says why.
    """
    import tensorflow as tf

    from training.calibration import Isotonic, calibrated_model

    applied = None if choice is None else choice.calibration
    model = raw if applied is None else calibrated_model(raw, applied)
    export_saved_model(model, out_dir, model_name=model_name)
    loaded = tf.saved_model.load(str(out_dir))
    differences = signature_differences(loaded, crops, out_dir / TFLITE_FILE)
    calibration = None
    if applied is not None and raw_check is not None:
        calibration = calibration_difference(loaded, crops, applied.predict(raw_check))
    try:
        check_signatures(differences)
        if calibration is not None and calibration > CALIBRATION_TOLERANCE:
            raise AssertionError(f"calibrated graph vs its reference: {calibration:.3g}")
    except AssertionError as failure:
        if choice is None or not isinstance(applied, Isotonic):
            raise
        reason = (
            f"isotonic was chosen, but its steepest segment (slope {applied.max_slope():.3g}) "
            f"magnified float32 differences between runtimes beyond tolerance ({failure})"
        )
        shutil.rmtree(out_dir)
        fallback = choice.without_isotonic(reason)
        return export_checked(raw, out_dir, model_name, crops, fallback, raw_check)
    return Exported(model, loaded, differences, choice, calibration)


def export_run(
    run_dir: Path,
    out_dir: Path,
    *,
    model_name: str = "deepfake",
    reports: Path | None = None,
    extra: dict[str, Any] | None = None,
    val: CropSet | None = None,
    calibrate: bool | None = None,
    calibration_method: str | None = None,
    band_reliability: float = measures.RELIABILITY,
) -> dict[str, Any]:
    """Export the run's model to `out_dir`, validate it there and write its model card.

    `val`: validation crops cut afresh (see `fresh_validation`); default: the crops the run
    saved, cut by the pipeline code of training time. `calibrate`: fold a calibration fitted
    on `val` into the graph; default: the run config's `calibrate` (off for runs without it).
    `calibration_method`: apply "platt", "isotonic" or "none" instead of the rule's choice
    (implies `calibrate`; the card still reports the rule's out-of-fold ECEs).
    `band_reliability`: how often verdicts outside the uncertainty band must have been right.
    """
    import keras

    run = json.loads((run_dir / "run.json").read_text())
    raw = keras.models.load_model(run_dir / "model.keras", compile=False)
    fresh = val is not None
    val = val if val is not None else CropSet.load(run_dir / "validation.npz")
    seed = run["config"]["seed"]
    choice, scores = None, None
    wanted = run["config"].get("calibrate", False) if calibrate is None else calibrate
    if wanted or calibration_method is not None:
        choice, scores = fit_calibration(raw, val, seed, calibration_method)
    crops = val.crops[:CHECK_CROPS]
    raw_check = None if scores is None else scores[:CHECK_CROPS]
    exported = export_checked(raw, out_dir, model_name, crops, choice, raw_check)
    checked = validate(exported.loaded, val, reliability=band_reliability)
    blend = self_blend_check(exported.loaded, val, seed)
    if reports is not None:
        save_reports(reports, run_dir, checked, blend, val)
    card = build_card(
        model_name,
        version_of(out_dir),
        exported.model,
        run,
        checked,
        blend,
        exported.differences,
        run_dir,
    )
    card["calibration"] = calibration_entry(exported, checked, scores)
    calibrated = exported.choice is not None and exported.choice.calibration is not None
    card["limitations"] = limitations(LIMITATIONS, calibrated)
    card["validation"]["crops"] = (
        f"cut afresh at export by the gateway pipeline of this code version (fingerprint "
        f"{pipeline_fingerprint()})"
        if fresh
        else "as saved by the training run"
    )
    card.update(extra or {})
    write_card(out_dir, card)
    return card


def calibration_entry(
    exported: Exported, checked: dict[str, Any], scores: np.ndarray | None
) -> dict[str, Any]:
    """The card's "calibration": the choice, its ECEs and its in-graph check (`scores`: the raw
    network's validation scores), or the ECE of the exported, uncalibrated scores."""
    if exported.choice is None or scores is None:
        ece = measures.expected_calibration_error(checked["labels"], checked["scores"])
        return uncalibrated_entry(ece, measures.ECE_BINS)
    entry = exported.choice.card_entry()
    if exported.choice.calibration is None:
        return entry
    entry["max_abs_diff_graph_vs_reference"] = exported.calibration_difference
    entry["tolerance"] = CALIBRATION_TOLERANCE
    # Platt with a > 0 keeps the ranking; isotonic ties the crops of a flat step.
    entry["frame_auc_before"] = measures.auc(checked["labels"], scores)
    entry["frame_auc_after"] = measures.auc(checked["labels"], checked["scores"])
    return entry


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
    size = crop_size_from_shape(model.input_shape)
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
        "uncertainty_band_method": BAND_METHOD.format(r=checked["band_reliability"]),
        "architecture": {
            "name": config["arch"],
            "keras_name": model.name,
            "parameters": int(model.count_params()),
            "input_size": size,
            "head": "global average pooling, dropout 0.3, dense(1, sigmoid)",
            "initialisation": "from scratch (no ImageNet weights can be downloaded here)",
        },
        "input": input_contract(size),
        "signatures": described_signatures(
            differences, min(512, len(checked["scores"])), size=size
        ),
        "training": {
            "loss": "binary cross-entropy",
            "optimizer": f"Adam, learning rate {config['learning_rate']}",
            "class_balance": _class_balance(config),
            "self_blended_fakes": config["self_blend"],
            "labelled_fakes": config["real_fakes"],
            "blend_share_of_fakes": config["blend_share"] if config["real_fakes"] else 1.0,
            "early_stopping": f"{_monitored(config)}, patience {config['patience']}, best "
            "epoch's weights kept",
            "config": config,
            "epochs_run": run["epochs_run"],
            "best_epoch": run["best_epoch"],
            "train_seconds": run["train_seconds"],
            "device": run.get("device", "unknown"),
        },
        "training_data": data_description(run_dir),
        "split": run.get("split_file")
        or (
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


def _class_balance(config: dict[str, Any]) -> str:
    if config.get("swap_share") is None:
        return "imbalanced-learn RandomOverSampler on each epoch's rows"
    swap, blend = config["swap_share"], config["blend_share"]
    return (
        f"each epoch: every real crop, and as many fakes: {swap:.0%} face-swap crops, "
        f"{blend:.0%} self-blends made afresh from real crops, {1 - swap - blend:.0%} synthetic "
        "fakes, each drawn at random (with replacement from a smaller pool)"
    )


def _monitored(config: dict[str, Any]) -> str:
    if config.get("monitor") == "val_swap_auc":
        return (
            "the selection score of training.protocol (mean frame AUC over the face-swap sources)"
        )
    return "validation AUC (incl. fixed self-blends)"
