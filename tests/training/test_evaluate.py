"""The evaluation CLI scores a media folder end to end with the card's threshold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.contract import CARD_FILE, ENCODED_SIGNATURE
from tests.support.training_data import write_media_folder
from training import evaluate as evaluate_cli


def test_evaluate_cli_on_a_media_folder(
    exported: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, card = exported
    data = write_media_folder(tmp_path / "media")
    report_path = tmp_path / "report.json"
    evaluate_cli.main(["--model", str(out), "--data", str(data), "--out", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["threshold"] == card["threshold"]
    assert report["threshold_from"].endswith(CARD_FILE)
    assert report["items"] == 4
    assert report["videos"] == 2
    assert report["video"]["n"] == 2  # one real and one fake clip, 2 s at 2 fps each
    assert report["frame"]["n"] + len(report["items_without_faces"]) >= 4
    assert set(report["per_source"]) == {"media"}
    printed = capsys.readouterr().out
    assert "frame" in printed
    assert "AUC" in printed
    # The PNG signature scores the same crops the same way.
    png_path = tmp_path / "png.json"
    args = ["--model", str(out), "--data", str(data), "--out", str(png_path)]
    evaluate_cli.main([*args, "--signature", ENCODED_SIGNATURE])
    png = json.loads(png_path.read_text())
    assert png["frame"]["confusion"] == report["frame"]["confusion"]
    assert png["frame"]["auc"] == pytest.approx(report["frame"]["auc"], abs=1e-6)
