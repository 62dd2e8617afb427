"""Write and read a version's TF Serving warm-up records (every signature, a few batch sizes).

TF Serving replays `WARMUP_FILE` before it serves a version, so no user pays the first-call
cost of building each signature's graph at each batch size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    ENCODED_INPUT_NAME,
    ENCODED_SIGNATURE,
    INPUT_NAME,
    UINT8_SIGNATURE,
    WARMUP_FILE,
    to_model_input,
)
from training.signatures import encode

WARMUP_BATCH_SIZES = (1, 8)


def warmup_crops(count: int, seed: int = 0, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """Deterministic uint8 SxS crops for warm-up requests (content does not matter, shapes
    do: a warm-up of another size than the signature's would fail)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 210, size, dtype=np.float32)
    base = (ramp[None, :, None] + ramp[:, None, None]) / 2
    noise = rng.normal(0, 12, (count, size, size, 3))
    crops: np.ndarray = np.clip(base[None] + noise, 0, 255).astype(np.uint8)
    return crops


def _signature_inputs(crops: np.ndarray) -> dict[str, tuple[str, Any]]:
    """Per signature: its input name and `crops` as the TensorProto it takes."""
    import tensorflow as tf

    return {
        DEFAULT_SIGNATURE: (INPUT_NAME, tf.make_tensor_proto(to_model_input(crops))),
        UINT8_SIGNATURE: (INPUT_NAME, tf.make_tensor_proto(crops)),
        ENCODED_SIGNATURE: (
            ENCODED_INPUT_NAME,
            tf.make_tensor_proto(encode(crops), dtype=tf.string, shape=[len(crops)]),
        ),
    }


def warmup_requests(model_name: str, crop_size: int = DEFAULT_CROP_SIZE) -> list[Any]:
    """PredictionLog records: every signature at the batch sizes in WARMUP_BATCH_SIZES, with
    crops of the model's `crop_size`."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    records = []
    for batch in WARMUP_BATCH_SIZES:
        crops = warmup_crops(batch, size=crop_size)
        for signature, (key, tensor) in _signature_inputs(crops).items():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            request.inputs[key].CopyFrom(tensor)
            records.append(
                prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
            )
    return records


def write_warmup(out_dir: Path, model_name: str, crop_size: int = DEFAULT_CROP_SIZE) -> Path:
    """The warm-up records of `model_name` (SxS crops, S = `crop_size`), where TF Serving looks
    for them in `out_dir`."""
    import tensorflow as tf

    path = out_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_requests(model_name, crop_size):
            writer.write(record.SerializeToString())
    return path


def read_warmup(model_dir: Path) -> list[Any]:
    """The PredictionLog records of a version's warm-up file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for raw in tf.data.TFRecordDataset(str(model_dir / WARMUP_FILE)):
        record = prediction_log_pb2.PredictionLog()
        record.ParseFromString(raw.numpy())
        records.append(record)
    return records
