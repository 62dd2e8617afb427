"""A released version's model card and reports: thresholds, operating points, what was measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from api.contract import DEFAULT_SIGNATURE, TFLITE_FILE, UINT8_SIGNATURE, to_model_input
from settings import PROJECT_ROOT
from training.calibration import ISOTONIC, NONE, PLATT, Isotonic, Platt
from training.card import UNCALIBRATED, read_card
from training.cropset import CropSet
from training.release import export_run, raw_scores
from training.signatures import run_signature
from training.warmup import read_warmup

SHIPPED = PROJECT_ROOT / "models" / "deepfake" / "1"


def test_model_card(exported: tuple[Path, Any]) -> None:
    out, card = exported
    assert read_card(out) == json.loads(json.dumps(card))
    assert 0.0 <= card["threshold"] <= 1.0
    assert "Youden" in card["threshold_method"]
    assert set(card["operating_points"]) == {"fpr1", "fpr5", "fpr10", "balanced"}
    for point in card["operating_points"].values():
        assert set(point) == {"threshold", "fpr", "tpr"}
    assert card["operating_points"]["balanced"]["threshold"] == card["threshold"]
    low, high = card["uncertainty_band"]
    assert low <= card["threshold"] <= high
    assert card["validation"]["frame"]["n"] == 16
    assert card["validation"]["video"]["n"] == 4  # the four validation items are .mp4 paths
    assert card["validation"]["frame"]["auc"] is not None
    assert card["signatures"][UINT8_SIGNATURE]["tolerance"][UINT8_SIGNATURE] == 1e-5
    assert card["code_version"]["commit"]
    assert card["architecture"]["name"] == "cnn4"


def test_reports_are_written(exported: tuple[Path, Any]) -> None:
    out, card = exported
    reports = out.parent / "reports"
    for name in ("history.png", "confusion_frame.png", "confusion_video.png", "roc.png"):
        assert (reports / name).read_bytes()[:4] == b"\x89PNG", name
    report = json.loads((reports / "validation_report.json").read_text())
    assert report["frame"]["confusion"] == card["validation"]["frame"]["confusion"]


def test_the_shipped_model_has_a_card_and_warmup_the_gateway_can_use() -> None:
    card = read_card(SHIPPED)
    assert card["trained"] is True
    assert card["version"] == 1
    threshold = card["threshold"]
    assert 0.0 < threshold < 1.0
    low, high = card["uncertainty_band"]
    assert 0.0 <= low <= threshold <= high <= 1.0
    points = card["operating_points"]
    assert {"fpr1", "fpr5", "fpr10", "balanced"} <= set(points)
    # Stricter false-positive targets need higher thresholds.
    fpr1, fpr5, fpr10 = (points[k]["threshold"] for k in ("fpr1", "fpr5", "fpr10"))
    assert fpr1 >= fpr5 >= fpr10
    assert all(p["fpr"] <= target for p, target in ((points["fpr1"], 0.01), (points["fpr5"], 0.05)))
    assert card["validation"]["frame"]["auc"] > 0.5
    assert len(card["code_version"]["commit"]) == 40
    assert 0 < len(read_warmup(SHIPPED)) <= 1000


def test_an_uncalibrated_card_says_how_calibrated_its_scores_were(
    exported: tuple[Path, Any],
) -> None:
    _, card = exported
    assert card["calibration"]["method"] == "none"
    assert 0.0 <= card["calibration"]["ece"] <= 1.0
    assert card["calibration"]["bins"] == 15
    assert any(entry.startswith(UNCALIBRATED) for entry in card["limitations"])


def test_a_calibrated_export_serves_and_documents_calibrated_scores(
    exported_calibrated: tuple[Path, Any], run_dir: Path
) -> None:
    import keras
    import tensorflow as tf

    out, card = exported_calibrated
    assert read_card(out) == json.loads(json.dumps(card))
    entry = card["calibration"]
    assert entry["method"] == PLATT
    assert entry["note"] == "platt chosen by the caller of the export, not by the rule"
    assert entry["bins"] == 15
    assert entry["folds"] == 4  # four validation groups: one held out at a time
    assert entry["fitted_on"] == {"crops": 16, "groups": 4, "fake_share": 0.5}
    assert 0.0 <= entry["ece_after"] <= 1.0
    assert 0.0 <= entry["ece_before"] <= 1.0
    assert "by group" in entry["rule"]
    assert entry["max_abs_diff_graph_vs_reference"] <= entry["tolerance"] == 1e-5
    assert card["signatures"][TFLITE_FILE]["max_abs_diff_vs_serving_default"][TFLITE_FILE] <= 1e-5
    assert card["architecture"]["keras_name"].endswith("_calibrated")
    assert not any(line.startswith(UNCALIBRATED) for line in card["limitations"])
    # The card's parameters reproduce what the version serves from the raw network's scores,
    # so its thresholds (measured on the served scores) are on calibrated scores.
    parameters = entry["parameters"]
    fit = (
        Platt(parameters["a"], parameters["b"])
        if entry["method"] == PLATT
        else Isotonic(tuple(parameters["x"]), tuple(parameters["y"]))
    )
    val = CropSet.load(run_dir / "validation.npz")
    raw = keras.models.load_model(run_dir / "model.keras", compile=False)
    expected = fit.predict(raw_scores(raw, val.crops))
    loaded = tf.saved_model.load(str(out))
    served = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(val.crops))
    assert np.abs(served - expected).max() <= 1e-5
    assert card["threshold"] in set(served.tolist()) | {1.0}


def test_the_rule_keeps_raw_scores_it_cannot_improve(run_dir: Path, tmp_path: Path) -> None:
    # Four validation groups of one class each: every fold's fit is wrong about its held-out
    # group, worse than the raw scores, so the export stays uncalibrated and says why.
    card = export_run(run_dir, tmp_path / "deepfake" / "9", calibrate=True)
    entry = card["calibration"]
    assert entry["method"] == NONE
    assert entry["parameters"] is None
    assert entry["ece_after"] == entry["ece_before"]
    assert min(entry["out_of_fold_ece"].values()) >= entry["ece_before"]
    assert card["architecture"]["keras_name"] == "deepfake_cnn4"
    assert any(line.startswith(UNCALIBRATED) for line in card["limitations"])


def test_a_too_steep_isotonic_map_falls_back(run_dir: Path, tmp_path: Path) -> None:
    # This tiny run's validation scores differ by ~1e-5, so isotonic knots are that close and
    # float32 differences between runtimes (~3e-8) come out of LiteRT thousands of times larger.
    card = export_run(run_dir, tmp_path / "deepfake" / "10", calibration_method="isotonic")
    entry = card["calibration"]
    if entry["method"] == ISOTONIC:  # the runtimes happened to agree closely enough
        assert entry["max_abs_diff_graph_vs_reference"] <= 1e-5
        return
    assert "steepest segment" in entry["note"]
    assert entry["method"] in (PLATT, NONE)
    assert card["signatures"][TFLITE_FILE]["max_abs_diff_vs_serving_default"][TFLITE_FILE] <= 1e-5
