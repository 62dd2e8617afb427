"""Every signature and the .tflite give serving_default's scores, within TOLERANCE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    ENCODED_INPUT_NAME,
    ENCODED_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    TFLITE_FILE,
    UINT8_SIGNATURE,
    to_model_input,
)
from settings import PROJECT_ROOT
from tests.support.models import load_serving_default
from training.card import read_card
from training.cropset import CropSet
from training.signatures import (
    TOLERANCE,
    encode,
    run_signature,
    run_tflite,
    signature_differences,
)

SHIPPED = PROJECT_ROOT / "models" / "deepfake" / "1"


def test_every_signature_gives_the_default_scores(
    exported: tuple[Path, Any], tiny_crops: CropSet
) -> None:
    import tensorflow as tf

    out, _ = exported
    loaded = tf.saved_model.load(str(out))
    reference = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(tiny_crops.crops))
    assert reference.std() > 1e-4  # a trained model: scores differ between crops
    uint8 = run_signature(loaded, UINT8_SIGNATURE, tiny_crops.crops)
    assert np.abs(uint8 - reference).max() <= TOLERANCE[UINT8_SIGNATURE]
    png = run_signature(loaded, ENCODED_SIGNATURE, np.array(encode(tiny_crops.crops), dtype=object))
    assert np.abs(png - reference).max() <= TOLERANCE[f"{ENCODED_SIGNATURE}/png"]
    differences = signature_differences(loaded, tiny_crops.crops, out / TFLITE_FILE)
    assert all(differences[k] <= tolerance for k, tolerance in TOLERANCE.items())
    assert differences["jpeg_q95_vs_raw_pixels"] < 0.2  # lossy, but not another model


def test_the_encoded_signature_rejects_wrong_sized_crops(exported: tuple[Path, Any]) -> None:
    import tensorflow as tf

    out, _ = exported
    signature = tf.saved_model.load(str(out)).signatures[ENCODED_SIGNATURE]
    big = encode(np.zeros((1, DEFAULT_CROP_SIZE + 16, DEFAULT_CROP_SIZE + 16, 3), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError):
        signature(**{ENCODED_INPUT_NAME: tf.constant(big)})


def test_the_shipped_tflite_gives_the_savedmodel_scores() -> None:
    shape = (40, DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3)
    crops = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    signature = load_serving_default(SHIPPED)
    reference = signature(**{INPUT_NAME: to_model_input(crops)})[OUTPUT_NAME].numpy()
    np.testing.assert_allclose(run_tflite(SHIPPED / TFLITE_FILE, crops), reference[:, 0], atol=1e-5)
    recorded = read_card(SHIPPED)["signatures"][TFLITE_FILE]["max_abs_diff_vs_serving_default"]
    assert recorded[TFLITE_FILE] <= 1e-5
