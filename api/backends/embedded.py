"""The model run in-process: the default when no TF Serving is configured.

Two runtimes for the same model version, both fed the gateway's uint8 crops:
- LiteRT runs `model.tflite`, which the export converts from the SavedModel's `serving_uint8`
  and checks against it (scores within 1e-5): ~90 MB resident and a fraction of a second to
  start, where TensorFlow takes ~900 MB and seconds; the same CPU time per crop.
- TensorFlow runs the SavedModel's `serving_default`, for versions without a `.tflite`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from api.backends.base import BackendStatus, Scored, ScoringBackend, check_scores
from api.pipeline.batching import chunks, to_model_input
from settings import EmbeddedRuntime

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"
TFLITE_FILE = "model.tflite"
WARMUP = np.zeros((1, 64, 64, 3), np.uint8)

# uint8 RGB crops [N, 64, 64, 3] -> P(fake) [N, 1], one call of the runtime.
Runner = Callable[[np.ndarray], np.ndarray]


class EmbeddedBackend(ScoringBackend):
    """Runs the model on one dedicated thread.

    One thread because the runtime parallelises inside each call (INFERENCE_THREADS) and two
    concurrent calls on two cores are no faster than one (DESIGN.md); the thread also keeps
    inference off the event loop and off the pool that decodes video.
    """

    name = "embedded"

    def __init__(self, runner: Runner, runtime: EmbeddedRuntime, model_dir: Path, batch_size: int):
        self._runner = runner
        self._runtime = runtime
        self._batch_size = batch_size
        self.model_dir = model_dir
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        batch_size: int,
        threads: int = 0,
        runtime: EmbeddedRuntime = EmbeddedRuntime.AUTO,
    ) -> EmbeddedBackend:
        """Load the model (up to seconds: call it off the event loop)."""
        runtime = choose_runtime(model_dir, runtime)
        if runtime is EmbeddedRuntime.LITERT:
            runner = _litert_runner(model_dir / TFLITE_FILE, threads)
        else:
            runner = _tensorflow_runner(model_dir, threads)
        backend = cls(runner, runtime, model_dir, batch_size)
        # The first call allocates and optimises (~0.5 s with TensorFlow): pay it at start.
        backend._run(WARMUP)
        log.info("embedded model %s runs on %s", model_dir, runtime.value)
        return backend

    @property
    def runtime(self) -> str:
        return f"embedded/{self._runtime}"

    def _run(self, crops: np.ndarray) -> np.ndarray:
        parts = [
            self._runner(part).reshape(len(part), -1) for part in chunks(crops, self._batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)

    async def predict(self, crops: np.ndarray) -> Scored:
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(self._executor, self._run, crops)
        return Scored(check_scores(raw, len(crops), "The embedded model"), self.model_dir.name)

    async def status(self) -> BackendStatus:
        if self._closed:
            return BackendStatus(ready=False, detail="embedded model is shut down")
        return BackendStatus(
            ready=True,
            detail=f"embedded {self._runtime} model {self.model_dir}",
            version=self.model_dir.name,
        )

    async def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)


def choose_runtime(model_dir: Path, wanted: EmbeddedRuntime) -> EmbeddedRuntime:
    """AUTO: LiteRT when the version has a .tflite and LiteRT is installed, else TensorFlow."""
    has_tflite = (model_dir / TFLITE_FILE).is_file()
    if wanted is EmbeddedRuntime.LITERT and not has_tflite:
        raise FileNotFoundError(
            f"EMBEDDED_RUNTIME=litert but {model_dir} has no {TFLITE_FILE}: re-export the "
            "version with `make model`, or set EMBEDDED_RUNTIME=tensorflow."
        )
    if wanted is not EmbeddedRuntime.AUTO:
        return wanted
    if has_tflite and _litert_installed():
        return EmbeddedRuntime.LITERT
    return EmbeddedRuntime.TENSORFLOW


def _litert_installed() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def _litert_runner(path: Path, threads: int) -> Runner:
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
        # The export converts serving_uint8 (crops as they are); a float32 model gets /255.
        self._uint8 = run.get_input_details()[input_name]["dtype"] == np.uint8

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        batch = crops if self._uint8 else to_model_input(crops)
        (output,) = self._run(**{self._input: batch}).values()
        return np.asarray(output)


def _tensorflow_runner(model_dir: Path, threads: int) -> Runner:
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
        if SIGNATURE not in loaded.signatures:
            raise ValueError(f"{model_dir} has no '{SIGNATURE}' signature")
        # Holding `loaded` keeps alive the variables the signature refers to.
        self._loaded = loaded
        self._signature = loaded.signatures[SIGNATURE]
        inputs = self._signature.structured_input_signature[1]
        if len(inputs) != 1:
            raise ValueError(
                f"'{SIGNATURE}' of {model_dir} must take one input, has {list(inputs)}"
            )
        (self._input,) = inputs

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        batch = tf.constant(to_model_input(crops), dtype=tf.float32)
        (output,) = self._signature(**{self._input: batch}).values()
        return np.asarray(output.numpy())
