"""The serving contract: everything the gateway and a model version agree on, in one place.

A model version (`<MODEL_BASE_PATH>/<name>/<version>/`) is a SavedModel with three signatures,
all answering `{OUTPUT_NAME: float32 [-1, 1]}`, one P(fake) per crop:

- `serving_default(image: float32 [-1, S, S, 3])`: RGB, pixel / 255 in [0, 1] (the original
  service's input);
- `serving_uint8(image: uint8 [-1, S, S, 3])`: the same pixels as bytes; the graph divides;
- `serving_encoded(image_bytes: string [-1])`: PNG (lossless) or JPEG crops decoded in-graph.

S is the crop size: what the signature's input shape fixes, DEFAULT_CROP_SIZE when it leaves it
open. Next to the SavedModel: `model.tflite` (serving_uint8 for LiteRT), the model card, and
TF Serving's warm-up records.

Imports nothing of the project: the pipeline, the backends and the training code all build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

INPUT_NAME = "image"
ENCODED_INPUT_NAME = "image_bytes"
OUTPUT_NAME = "p_fake"

DEFAULT_SIGNATURE = "serving_default"
UINT8_SIGNATURE = "serving_uint8"
ENCODED_SIGNATURE = "serving_encoded"

DEFAULT_CROP_SIZE = 64

TFLITE_FILE = "model.tflite"
CARD_FILE = "model_card.json"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"  # TF Serving's own name


def crop_size_from_shape(shape: Sequence[int | None] | None) -> int:
    """The crop size an image input of `shape` ([batch, height, width, 3]) asks for: its height
    when height and width are fixed and equal, DEFAULT_CROP_SIZE when the shape leaves it open."""
    if shape is None or len(shape) != 4:
        return DEFAULT_CROP_SIZE
    height, width = shape[1], shape[2]
    if height is None or width is None or height < 1 or width < 1:
        return DEFAULT_CROP_SIZE
    if height != width:
        raise ValueError(f"the model's input must be square crops, declares {height}x{width}")
    return int(height)


def to_model_input(crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack uint8 RGB crops into serving_default's float32 [N, S, S, 3] batch in [0, 1]."""
    batch = np.asarray(crops)
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"expected [N, H, W, 3] crops, got shape {batch.shape}")
    if batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops, got {batch.dtype}")
    return batch.astype(np.float32) / np.float32(255.0)


def encode_crop(crop: np.ndarray, ext: str = ".png", params: Sequence[int] = ()) -> bytes:
    """An RGB uint8 crop as image file bytes for serving_encoded (.png lossless, .jpg with
    `params`)."""
    # OpenCV writes BGR arrays as RGB files: swap so the file holds the crop's own colours.
    ok, data = cv2.imencode(ext, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), list(params))
    if not ok:
        raise ValueError(f"OpenCV could not encode a crop as {ext}")
    return data.tobytes()
