"""Small SavedModels whose output is a known function of the pixels, for exact assertions.

An untrained EfficientNetB0 answers 0.5 for every input, which would let wrong crops, swapped
channels or a lost frame pass unnoticed; these models make every score checkable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.architectures import INPUT_NAME, INPUT_SIZE
from training.export import export_saved_model

CHANNEL = {"red": 0, "green": 1, "blue": 2}


def channel_mean_model(channel: str = "red") -> Any:
    """P(fake) = mean of one RGB channel of the crop, in [0, 1] like the input."""
    import keras

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name=INPUT_NAME)
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


def random_crops(n: int, seed: int = 0) -> np.ndarray:
    """RGB uint8 [n, 64, 64, 3] crops of noise, what backends take."""
    return np.random.default_rng(seed).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


def export_channel_mean(base: Path, name: str, version: int, channel: str = "red") -> Path:
    return export_saved_model(channel_mean_model(channel), base / name / str(version))


def export_default_only(
    base: Path, name: str, version: int, channel: str = "red", *, uint8: bool = False
) -> Path:
    """A SavedModel with serving_default alone (and serving_uint8 with `uint8`), as models
    exported before compact signatures."""
    import keras
    import tensorflow as tf

    model = channel_mean_model(channel)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda image: {"p_fake": model(image, training=False)},
        input_signature=[
            tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name="image")
        ],
    )
    if uint8:
        archive.add_endpoint(
            name="serving_uint8",
            fn=lambda image: {"p_fake": model(tf.cast(image, tf.float32) / 255.0, training=False)},
            input_signature=[
                tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.uint8, name="image")
            ],
        )
    out = base / name / str(version)
    archive.write_out(str(out), verbose=False)
    return out
