"""The warm-up file holds PredictionLog records TF Serving can replay against every signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.contract import (
    DEFAULT_SIGNATURE,
    ENCODED_INPUT_NAME,
    ENCODED_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    UINT8_SIGNATURE,
)
from training.warmup import WARMUP_BATCH_SIZES, read_warmup


def test_warmup_file_holds_prediction_logs_for_every_signature(
    exported: tuple[Path, Any],
) -> None:
    import tensorflow as tf

    out, _ = exported
    records = read_warmup(out)
    assert 0 < len(records) <= 1000  # TF Serving reads at most 1000
    seen = set()
    loaded = tf.saved_model.load(str(out))
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.name == "deepfake"
        seen.add((request.model_spec.signature_name, tuple(request.inputs)))
        # Every request runs as it is against its signature and gives one score per row.
        (key,) = request.inputs
        tensor = tf.make_ndarray(request.inputs[key])
        outputs = loaded.signatures[request.model_spec.signature_name](**{key: tensor})
        assert outputs[OUTPUT_NAME].shape[0] in WARMUP_BATCH_SIZES
    assert seen == {
        (DEFAULT_SIGNATURE, (INPUT_NAME,)),
        (UINT8_SIGNATURE, (INPUT_NAME,)),
        (ENCODED_SIGNATURE, (ENCODED_INPUT_NAME,)),
    }
