"""Exported SavedModels honour the contract: float32 [-1, 64, 64, 3] in [0, 1] -> [-1, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.contract import TFLITE_FILE, to_model_input
from settings import PROJECT_ROOT
from training.card import read_card
from training.export import OUTPUT_NAME, main, read_warmup, run_tflite

SHIPPED = PROJECT_ROOT / "models" / "deepfake" / "1"


def serving_default(model_dir: Path) -> Any:
    import tensorflow as tf

    return tf.saved_model.load(str(model_dir)).signatures["serving_default"]


def assert_contract(signature: Any) -> None:
    import tensorflow as tf

    spec = signature.structured_input_signature[1]["image"]
    assert spec.dtype == tf.float32
    assert spec.shape.as_list() == [None, 64, 64, 3]
    assert list(signature.structured_outputs) == [OUTPUT_NAME]
    assert signature.structured_outputs[OUTPUT_NAME].shape.as_list() == [None, 1]


def test_the_shipped_model_honours_the_contract() -> None:
    signature = serving_default(SHIPPED)
    assert_contract(signature)
    batch = np.random.default_rng(0).random((3, 64, 64, 3), dtype=np.float32)
    scores = signature(image=batch)[OUTPUT_NAME].numpy()
    assert scores.shape == (3, 1)
    assert ((scores >= 0) & (scores <= 1)).all()


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


def test_export_cli_writes_a_servable_version(tmp_path: Path) -> None:
    out = tmp_path / "deepfake" / "3"
    main(["--out", str(out), "--arch", "cnn4", "--seed", "1"])
    assert (out / "saved_model.pb").is_file()
    assert_contract(serving_default(out))
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


def test_the_shipped_tflite_gives_the_savedmodel_scores() -> None:
    crops = np.random.default_rng(2).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    reference = serving_default(SHIPPED)(image=to_model_input(crops))[OUTPUT_NAME].numpy()
    np.testing.assert_allclose(run_tflite(SHIPPED / TFLITE_FILE, crops), reference[:, 0], atol=1e-5)
    recorded = read_card(SHIPPED)["signatures"][TFLITE_FILE]["max_abs_diff_vs_serving_default"]
    assert recorded[TFLITE_FILE] <= 1e-5


def test_add_tflite_gives_an_existing_version_its_tflite(tmp_path: Path) -> None:
    out = tmp_path / "deepfake" / "4"
    main(["--out", str(out), "--arch", "cnn4", "--seed", "2"])
    (out / TFLITE_FILE).unlink()
    main(["--add-tflite", "--out", str(out)])
    assert (out / TFLITE_FILE).is_file()
    assert TFLITE_FILE in read_card(out)["signatures"]


def test_efficientnet_b0_keeps_the_contract() -> None:
    from training.architectures import efficientnet_b0

    model = efficientnet_b0(seed=0)
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, 1)
    assert model.get_layer("p_fake").activation.__name__ == "sigmoid"
