"""Run a version's signatures and its `.tflite`, and check they give serving_default's scores.

The compact signatures and the LiteRT copy must score crops as serving_default does, within
TOLERANCE; the measured differences go into the model card (`described_signatures`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.backends.runtimes import litert_runner
from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    ENCODED_INPUT_NAME,
    ENCODED_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    TFLITE_FILE,
    UINT8_SIGNATURE,
    encode_crop,
    to_model_input,
)

# Largest |score - serving_default score| accepted on the same crops (tests and export check).
# The pixels reaching the network are bit for bit the same; what remains is float32 rounding
# inside the graph (TensorFlow's optimiser may fold the /255 into the model's own scaling):
# measured up to 1.2e-6 on an EfficientNetB0, 3e-8 on the small CNN.
TOLERANCE = {
    UINT8_SIGNATURE: 1e-5,  # same float32 pixels, same network
    f"{ENCODED_SIGNATURE}/png": 1e-5,  # lossless
    # JPEG bytes vs the same bytes decoded by OpenCV and sent to serving_default: both decode
    # with libjpeg's accurate integer IDCT, so the pixels agree.
    f"{ENCODED_SIGNATURE}/jpeg": 1e-5,
    # The same graph compiled by the TFLite converter and run by LiteRT's XNNPACK kernels:
    # measured 4e-8 on the small CNN.
    TFLITE_FILE: 1e-5,
}
JPEG_QUALITY = 95


def signatures_description(size: int = DEFAULT_CROP_SIZE) -> dict[str, Any]:
    """The three signatures of a version taking SxS crops (S = `size`), as the model card
    describes them to people."""
    shape = f"[-1, {size}, {size}, 3]"
    crop = f"{size}x{size}"
    return {
        DEFAULT_SIGNATURE: {
            "inputs": {INPUT_NAME: f"float32 {shape} RGB in [0, 1] (pixel / 255)"},
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
        UINT8_SIGNATURE: {
            "inputs": {INPUT_NAME: f"uint8 {shape} RGB in 0..255"},
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
        ENCODED_SIGNATURE: {
            "inputs": {
                ENCODED_INPUT_NAME: f"string [-1]: PNG or JPEG bytes of {crop} RGB crops "
                '(TF Serving REST: {"b64": ...})'
            },
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
    }


def encode(crops: np.ndarray, fmt: str = ".png", quality: int = JPEG_QUALITY) -> list[bytes]:
    """PNG or JPEG bytes of RGB uint8 crops, as the gateway would send them."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else []
    return [encode_crop(crop, fmt, params) for crop in crops]


def decode(blobs: list[bytes]) -> np.ndarray:
    """RGB uint8 crops back from encoded bytes, with OpenCV."""
    out = []
    for blob in blobs:
        image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("OpenCV could not decode an encoded crop")
        out.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(out)


def run_signature(loaded: Any, name: str, batch: Any, batch_size: int = 256) -> np.ndarray:
    """Scores [N] from one signature of a loaded SavedModel, in chunks."""
    import tensorflow as tf

    signature = loaded.signatures[name]
    (key,) = signature.structured_input_signature[1]
    dtype = signature.structured_input_signature[1][key].dtype
    parts = []
    for start in range(0, len(batch), batch_size):
        chunk = tf.constant(batch[start : start + batch_size], dtype=dtype)
        parts.append(signature(**{key: chunk})[OUTPUT_NAME].numpy().reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def run_tflite(path: Path, crops: np.ndarray) -> np.ndarray:
    """Scores [N] from the .tflite, run by LiteRT as the embedded backend runs it."""
    return litert_runner(path, threads=1)(crops).reshape(-1)


def tflite_difference(tflite: Path, crops: np.ndarray, reference: np.ndarray) -> float:
    """Largest |.tflite score - serving_default score| on `crops`."""
    return float(np.abs(run_tflite(tflite, crops) - reference).max())


def signature_differences(
    loaded: Any, crops: np.ndarray, tflite: Path | None = None
) -> dict[str, float]:
    """Largest |score - serving_default score| of every compact signature (and of the .tflite)
    on the same crops, plus how far JPEG itself moves the scores (a property of the wire
    format, not a bug)."""
    reference = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(crops))
    uint8 = run_signature(loaded, UINT8_SIGNATURE, crops)
    png = run_signature(loaded, ENCODED_SIGNATURE, np.array(encode(crops, ".png"), dtype=object))
    jpeg_bytes = encode(crops, ".jpg")
    jpeg = run_signature(loaded, ENCODED_SIGNATURE, np.array(jpeg_bytes, dtype=object))
    jpeg_reference = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(decode(jpeg_bytes)))
    differences = {
        UINT8_SIGNATURE: float(np.abs(uint8 - reference).max()),
        f"{ENCODED_SIGNATURE}/png": float(np.abs(png - reference).max()),
        f"{ENCODED_SIGNATURE}/jpeg": float(np.abs(jpeg - jpeg_reference).max()),
        f"jpeg_q{JPEG_QUALITY}_vs_raw_pixels": float(np.abs(jpeg - reference).max()),
        f"jpeg_q{JPEG_QUALITY}_vs_raw_pixels_mean": float(np.abs(jpeg - reference).mean()),
    }
    if tflite is not None:
        differences[TFLITE_FILE] = tflite_difference(tflite, crops, reference)
    return differences


def check_signatures(differences: dict[str, float]) -> None:
    failed = {k: v for k, v in differences.items() if k in TOLERANCE and v > TOLERANCE[k]}
    if failed:
        raise AssertionError(
            f"signatures disagree with {DEFAULT_SIGNATURE} beyond tolerance: {failed}"
        )


def described_signatures(
    differences: dict[str, float] | None, n_crops: int, size: int = DEFAULT_CROP_SIZE
) -> dict[str, Any]:
    """`signatures_description` with, per signature, the measured differences and tolerances."""
    described = signatures_description(size)
    if differences is None:
        return described
    for key, value in differences.items():
        signature = ENCODED_SIGNATURE if key.startswith("jpeg_") else key.split("/")[0]
        entry = described.setdefault(signature, {})
        entry.setdefault("max_abs_diff_vs_serving_default", {})[key] = value
        if key in TOLERANCE:
            entry.setdefault("tolerance", {})[key] = TOLERANCE[key]
        entry["measured_on_crops"] = n_crops
    return described
