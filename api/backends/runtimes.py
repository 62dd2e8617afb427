"""The two runtimes that run a model version in-process, each behind one callable.

A `Runner` takes uint8 RGB crops [N, S, S, 3] and answers P(fake) [N, 1] in one call, S being
its `crop_size` (read from the model's input shape):
- LiteRT runs `model.tflite` (the export converts serving_uint8): ~90 MB resident, no TensorFlow;
- TensorFlow runs the SavedModel's serving_default, for versions without a `.tflite`.
The embedded backend uses them, and the export checks the `.tflite` it writes with the same one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from api.contract import DEFAULT_SIGNATURE, crop_size_from_shape, to_model_input

log = logging.getLogger(__name__)


class Runner(Protocol):
    crop_size: int  # the model's input height and width

    def __call__(self, crops: np.ndarray) -> np.ndarray: ...


def litert_installed() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def litert_runner(path: Path, threads: int) -> Runner:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise RuntimeError(
            "EMBEDDED_RUNTIME=litert needs the ai-edge-litert package (in the 'embedded' "
            "dependency group), or set EMBEDDED_RUNTIME=tensorflow."
        ) from exc
    interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        raise ValueError(f"{path} must hold one signature, has {list(signatures)}")
    ((key, io),) = signatures.items()
    if len(io["inputs"]) != 1:
        raise ValueError(f"the signature of {path} must take one input, has {io['inputs']}")
    return _LiteRTRunner(interpreter.get_signature_runner(key), io["inputs"][0])


class _LiteRTRunner:
    def __init__(self, run: Any, input_name: str) -> None:
        self._run = run
        self._input = input_name
        details = run.get_input_details()[input_name]
        # The export converts serving_uint8 (crops as they are); a float32 model gets /255.
        self._uint8 = details["dtype"] == np.uint8
        # `shape` has 1 for every open dimension; `shape_signature` keeps them open (-1).
        shape = details.get("shape_signature", details["shape"])
        self.crop_size = crop_size_from_shape(_open_as_none(shape))

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        batch = crops if self._uint8 else to_model_input(crops)
        (output,) = self._run(**{self._input: batch}).values()
        return np.asarray(output)


def tensorflow_runner(model_dir: Path, threads: int) -> Runner:
    try:
        import tensorflow as tf
    except ImportError as exc:  # the gateway image ships without TensorFlow
        raise RuntimeError(
            "TensorFlow is not installed, so the SavedModel cannot run in-process. Set "
            "TF_SERVING_URL to use TF Serving, or install the 'embedded' dependency group."
        ) from exc
    if threads:
        # Must happen before TensorFlow builds its thread pools; harmless if already set.
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            log.debug("TensorFlow threading already configured")
    if not (model_dir / "saved_model.pb").is_file():
        raise FileNotFoundError(
            f"No SavedModel at {model_dir} (expected {model_dir / 'saved_model.pb'}). "
            "Check MODEL_BASE_PATH, MODEL_NAME and MODEL_VERSION, or run `make model`."
        )
    return _TensorFlowRunner(tf.saved_model.load(str(model_dir)), model_dir)


class _TensorFlowRunner:
    def __init__(self, loaded: Any, model_dir: Path) -> None:
        if DEFAULT_SIGNATURE not in loaded.signatures:
            raise ValueError(f"{model_dir} has no '{DEFAULT_SIGNATURE}' signature")
        # Holding `loaded` keeps alive the variables the signature refers to.
        self._loaded = loaded
        self._signature = loaded.signatures[DEFAULT_SIGNATURE]
        inputs = self._signature.structured_input_signature[1]
        if len(inputs) != 1:
            raise ValueError(
                f"'{DEFAULT_SIGNATURE}' of {model_dir} must take one input, has {list(inputs)}"
            )
        (self._input,) = inputs
        shape = inputs[self._input].shape
        self.crop_size = crop_size_from_shape(None if shape.rank is None else shape.as_list())

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        batch = tf.constant(to_model_input(crops), dtype=tf.float32)
        (output,) = self._signature(**{self._input: batch}).values()
        return np.asarray(output.numpy())


def _open_as_none(shape: Sequence[int]) -> list[int | None]:
    """LiteRT writes an open dimension as -1; crop_size_from_shape expects None."""
    return [None if int(d) < 0 else int(d) for d in shape]
