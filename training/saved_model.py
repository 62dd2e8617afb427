"""Write a Keras model as a version TF Serving and LiteRT serve: SavedModel, warm-up, .tflite.

Keras 3 no longer writes SavedModels from `model.save(dir)`; `ExportArchive` does, with the
signatures named and shaped exactly as `api.contract` says (S = the Keras model's square input
size, DEFAULT_CROP_SIZE when its input leaves it open):

- serving_default(image: float32 [-1, S, S, 3] in [0, 1]) -> {p_fake: float32 [-1, 1]}
- serving_uint8(image: uint8 [-1, S, S, 3] in 0..255): 4x smaller requests, same scores
  (the graph divides by 255 exactly as the gateway does).
- serving_encoded(image_bytes: string [-1]): PNG or JPEG crops of SxS decoded in the graph
  (tf.io.decode_image); PNG gives the same scores, JPEG the scores of the JPEG-decoded pixels.

Each version also gets TFLITE_FILE (serving_uint8 converted for LiteRT, which the embedded
backend runs in ~90 MB instead of TensorFlow's ~900 MB) and TF Serving's warm-up records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.contract import (
    DEFAULT_SIGNATURE,
    ENCODED_INPUT_NAME,
    ENCODED_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    TFLITE_FILE,
    UINT8_SIGNATURE,
    crop_size_from_shape,
)
from training.warmup import write_warmup


def version_of(out_dir: Path) -> int:
    """The version number TF Serving reads from the folder name."""
    if not out_dir.name.isdigit():
        raise ValueError(f"{out_dir} must end in a numeric version folder (TF Serving layout)")
    return int(out_dir.name)


def crop_size_of(model: Any) -> int:
    """The square crop size a Keras model takes ([-1, S, S, 3]; open -> DEFAULT_CROP_SIZE)."""
    return crop_size_from_shape(list(model.input_shape))


def _endpoints(model: Any, size: int) -> list[tuple[str, Any, Any]]:
    """(signature name, function, input spec) of the three signatures around `model`, for
    SxS crops."""
    import tensorflow as tf

    crop_shape = [size, size, 3]

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: model(image, training=False)}

    def serve_uint8(image: tf.Tensor) -> dict[str, tf.Tensor]:
        # float32 / float32(255): bit for bit what api.contract.to_model_input does.
        return serve(tf.cast(image, tf.float32) / tf.constant(255.0, tf.float32))

    def decode(data: tf.Tensor) -> tf.Tensor:
        # TF's JPEG default is the fast integer IDCT; OpenCV (and PIL) decode with the accurate
        # one. Asking for it makes in-graph pixels equal to what the gateway encoded from.
        image = tf.cond(
            tf.io.is_jpeg(data),
            lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False),
        )
        # A crop of the wrong size is an error, not something to resize silently.
        return tf.ensure_shape(image, crop_shape)

    def serve_encoded(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.map_fn(
            decode, image_bytes, fn_output_signature=tf.TensorSpec(crop_shape, tf.uint8)
        )
        return serve_uint8(images)

    return [
        (DEFAULT_SIGNATURE, serve, tf.TensorSpec([None, *crop_shape], tf.float32, INPUT_NAME)),
        (UINT8_SIGNATURE, serve_uint8, tf.TensorSpec([None, *crop_shape], tf.uint8, INPUT_NAME)),
        (ENCODED_SIGNATURE, serve_encoded, tf.TensorSpec([None], tf.string, ENCODED_INPUT_NAME)),
    ]


def export_saved_model(model: Any, out_dir: Path, *, model_name: str = "deepfake") -> Path:
    """Export `model` (one [-1, S, S, 3] input, one [-1, 1] output) with serving_default, the
    compact signatures, a warm-up file and the .tflite, all at the model's own S."""
    import keras

    size = crop_size_of(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, fn, spec in _endpoints(model, size):
        archive.add_endpoint(name=name, fn=fn, input_signature=[spec])
    archive.write_out(str(out_dir), verbose=False)
    write_warmup(out_dir, model_name, size)
    write_tflite(out_dir)
    return out_dir


def write_tflite(out_dir: Path) -> Path:
    """Convert the version's serving_uint8 for LiteRT, next to the SavedModel (TF Serving
    ignores the file; the embedded backend prefers it)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(out_dir), signature_keys=[UINT8_SIGNATURE]
    )
    path = out_dir / TFLITE_FILE
    path.write_bytes(converter.convert())
    return path
