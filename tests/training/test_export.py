"""The export command line: untrained versions, a run's version with extra notes, --add-tflite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.contract import TFLITE_FILE
from tests.support.models import assert_serving_contract, load_serving_default
from training.card import read_card
from training.export import main
from training.warmup import WARMUP_BATCH_SIZES, read_warmup


def test_export_cli_writes_a_servable_version(tmp_path: Path) -> None:
    out = tmp_path / "deepfake" / "3"
    main(["--out", str(out), "--arch", "cnn4", "--seed", "1"])
    assert (out / "saved_model.pb").is_file()
    assert_serving_contract(load_serving_default(out))
    assert len(read_warmup(out)) == 6  # 3 signatures x 2 batch sizes
    card = read_card(out)
    # The LiteRT copy is written and checked against serving_default, and the card says how far.
    assert (out / TFLITE_FILE).is_file()
    tflite = card["signatures"][TFLITE_FILE]["max_abs_diff_vs_serving_default"][TFLITE_FILE]
    assert tflite <= 1e-5
    assert card["trained"] is False
    assert card["threshold"] == 0.5
    assert card["architecture"]["name"] == "cnn4"
    with pytest.raises(SystemExit):
        main(["--out", str(out)])  # refuses to overwrite without --force
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "deepfake" / "latest"), "--arch", "cnn4"])  # not a version


def test_add_tflite_gives_an_existing_version_its_tflite(tmp_path: Path) -> None:
    out = tmp_path / "deepfake" / "4"
    main(["--out", str(out), "--arch", "cnn4", "--seed", "2"])
    (out / TFLITE_FILE).unlink()
    main(["--add-tflite", "--out", str(out)])
    assert (out / TFLITE_FILE).is_file()
    assert TFLITE_FILE in read_card(out)["signatures"]


def test_export_cli_from_a_run_merges_extra_notes(run_dir: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"architecture_choice": {"shipped": "cnn4"}}))
    out = tmp_path / "deepfake" / "2"
    main(["--run", str(run_dir), "--out", str(out), "--extra", str(extra)])
    card = read_card(out)
    assert card["architecture_choice"] == {"shipped": "cnn4"}
    assert card["validation"]["crops"] == "as saved by the training run"
    assert len(read_warmup(out)) == 3 * len(WARMUP_BATCH_SIZES)
