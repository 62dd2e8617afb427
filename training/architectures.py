"""Networks that satisfy the serving contract: RGB SxS float32 in [0, 1] -> P(fake)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.contract import DEFAULT_CROP_SIZE, INPUT_NAME, OUTPUT_NAME

INPUT_SHAPE = (DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3)


def input_shape(size: int) -> tuple[int, int, int]:
    return (size, size, 3)


def efficientnet_b0(seed: int = 0, size: int = DEFAULT_CROP_SIZE) -> Any:
    """EfficientNetB0 from scratch (no ImageNet download is possible here) with a sigmoid head."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape(size), name=INPUT_NAME)
    # Keras' EfficientNet normalises inputs in [0, 255] itself; the contract feeds [0, 1].
    x = keras.layers.Rescaling(255.0, name="to_pixel_range")(inputs)
    x = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=input_shape(size), pooling="avg"
    )(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="deepfake_efficientnetb0")


def cnn4(seed: int = 0, width: int = 32, size: int = DEFAULT_CROP_SIZE) -> Any:
    """A small 4-block CNN (conv-BN-ReLU-pool, `width` doubling per block) with the same head.

    On this data and a CPU budget of minutes it learns the self-blending signal far sooner than
    an EfficientNetB0 from scratch (DESIGN.md: 0.76 vs 0.59 held-out video AUC); kept as the
    fallback architecture and for fast tests (`width` 4 trains in a second).
    """
    return _plain_cnn(seed, width, size, blocks=4, convs=1, name="deepfake_cnn4")


def cnn5x2(seed: int = 0, width: int = 32, size: int = DEFAULT_CROP_SIZE) -> Any:
    """Wider and deeper than cnn4: 5 blocks of two convolutions each (receptive field large
    enough for the whole face at 64-128 px), `width` doubling per block up to 8x."""
    return _plain_cnn(seed, width, size, blocks=5, convs=2, name="deepfake_cnn5x2")


def _plain_cnn(seed: int, width: int, size: int, *, blocks: int, convs: int, name: str) -> Any:
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape(size), name=INPUT_NAME)
    x = inputs
    for block in range(blocks):
        for _ in range(convs):
            filters = width * 2 ** min(block, 3)
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name=name)


ARCHITECTURES: dict[str, Callable[..., Any]] = {
    "efficientnetb0": efficientnet_b0,
    "cnn4": cnn4,
    "cnn5x2": cnn5x2,
}
