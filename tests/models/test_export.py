"""Exported SavedModels honour the contract: float32 [-1, 64, 64, 3] in [0, 1] -> [-1, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.card import read_card
from models.export import OUTPUT_NAME, main, read_warmup
from settings import PROJECT_ROOT

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


def test_export_cli_writes_a_servable_version(tmp_path: Path) -> None:
    out = tmp_path / "deepfake" / "3"
    main(["--out", str(out), "--arch", "cnn4", "--seed", "1"])
    assert (out / "saved_model.pb").is_file()
    assert_contract(serving_default(out))
    assert len(read_warmup(out)) == 6  # 3 signatures x 2 batch sizes
    card = read_card(out)
    assert card["trained"] is False
    assert card["threshold"] == 0.5
    assert card["architecture"]["name"] == "cnn4"
    with pytest.raises(SystemExit):
        main(["--out", str(out)])  # refuses to overwrite without --force
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "deepfake" / "latest"), "--arch", "cnn4"])  # not a version


def test_efficientnet_b0_keeps_the_contract() -> None:
    from models.architectures import efficientnet_b0

    model = efficientnet_b0(seed=0)
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, 1)
    assert model.get_layer("p_fake").activation.__name__ == "sigmoid"
