"""A released version's model card and reports: thresholds, operating points, what was measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.contract import UINT8_SIGNATURE
from settings import PROJECT_ROOT
from training.card import read_card
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
