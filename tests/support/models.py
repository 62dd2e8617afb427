"""Small SavedModels whose output is a known function of the pixels, for exact assertions.

An untrained EfficientNetB0 answers 0.5 for every input, which would let wrong crops, swapped
channels or a lost frame pass unnoticed; these models make every score checkable.
`assert_serving_contract` checks any exported serving_default against `api.contract`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    UINT8_SIGNATURE,
)
from training.saved_model import export_saved_model

CHANNEL = {"red": 0, "green": 1, "blue": 2}


def input_shape(size: int | None) -> tuple[int | None, int | None, int]:
    """[S, S, 3] for SxS crops; `size=None` leaves height and width open."""
    return (size, size, 3)


def channel_mean_model(channel: str = "red", size: int | None = DEFAULT_CROP_SIZE) -> Any:
    """P(fake) = mean of one RGB channel of the SxS crop, in [0, 1] like the input (any size
    when `size` is None)."""
    import keras

    inputs = keras.Input(input_shape(size), name=INPUT_NAME)
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(1, use_bias=False, name="pick")
    outputs = dense(pooled)
    weights = np.zeros((3, 1), np.float32)
    weights[CHANNEL[channel], 0] = 1.0
    dense.set_weights([weights])
    return keras.Model(inputs, outputs)


def expected_scores(batch: np.ndarray, channel: str = "red") -> np.ndarray:
    """What channel_mean_model answers for crops (uint8) or a model-input batch (float)."""
    values = batch.astype(np.float64) / 255.0 if batch.dtype == np.uint8 else batch
    scores: np.ndarray = values[..., CHANNEL[channel]].reshape(len(batch), -1).mean(axis=1)
    return scores


def random_crops(n: int, seed: int = 0, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """RGB uint8 [n, S, S, 3] crops of noise, what backends take."""
    shape = (n, size, size, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def export_channel_mean(
    base: Path, name: str, version: int, channel: str = "red", size: int = DEFAULT_CROP_SIZE
) -> Path:
    """channel_mean_model for SxS crops, exported as the gateway serves it (every signature,
    warm-up, .tflite)."""
    return export_saved_model(channel_mean_model(channel, size), base / name / str(version))


def export_default_only(
    base: Path,
    name: str,
    version: int,
    channel: str = "red",
    *,
    uint8: bool = False,
    size: int | None = DEFAULT_CROP_SIZE,
) -> Path:
    """A SavedModel with serving_default alone (and serving_uint8 with `uint8`), as models
    exported before compact signatures; `size=None` leaves the crop size open."""
    import keras
    import tensorflow as tf

    shape = [None, *input_shape(size)]
    model = channel_mean_model(channel, size)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=DEFAULT_SIGNATURE,
        fn=lambda image: {OUTPUT_NAME: model(image, training=False)},
        input_signature=[tf.TensorSpec(shape, tf.float32, name=INPUT_NAME)],
    )
    if uint8:
        archive.add_endpoint(
            name=UINT8_SIGNATURE,
            fn=lambda image: {
                OUTPUT_NAME: model(tf.cast(image, tf.float32) / 255.0, training=False)
            },
            input_signature=[tf.TensorSpec(shape, tf.uint8, name=INPUT_NAME)],
        )
    out = base / name / str(version)
    archive.write_out(str(out), verbose=False)
    return out


def load_serving_default(model_dir: Path) -> Any:
    """The serving_default signature of the SavedModel at `model_dir`."""
    import tensorflow as tf

    return tf.saved_model.load(str(model_dir)).signatures[DEFAULT_SIGNATURE]


def assert_serving_contract(signature: Any, size: int = DEFAULT_CROP_SIZE) -> None:
    """serving_default takes float32 [-1, S, S, 3] and answers {OUTPUT_NAME: [-1, 1]}."""
    import tensorflow as tf

    spec = signature.structured_input_signature[1][INPUT_NAME]
    assert spec.dtype == tf.float32
    assert spec.shape.as_list() == [None, size, size, 3]
    assert list(signature.structured_outputs) == [OUTPUT_NAME]
    assert signature.structured_outputs[OUTPUT_NAME].shape.as_list() == [None, 1]
