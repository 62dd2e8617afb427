"""The SavedModel run in-process with TensorFlow: the default when no TF Serving is configured."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from api.backends.base import BackendStatus, Scored, ScoringBackend, check_scores
from api.pipeline.batching import chunks, to_model_input

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"


class EmbeddedBackend(ScoringBackend):
    """Runs `serving_default` of a SavedModel on one dedicated thread.

    One thread because TensorFlow parallelises inside each call (intra-op threads) and two
    concurrent calls on two cores are no faster than one (DESIGN.md); the thread also keeps
    inference off the event loop and off the pool that decodes video.
    """

    name = "embedded"

    def __init__(self, loaded: Any, model_dir: Path, batch_size: int) -> None:
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
        (self._input_key,) = inputs
        self._batch_size = batch_size
        self.model_dir = model_dir
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    @classmethod
    def load(cls, model_dir: Path, *, batch_size: int, threads: int = 0) -> EmbeddedBackend:
        """Load the SavedModel (seconds: call it off the event loop)."""
        try:
            import tensorflow as tf
        except ImportError as exc:  # the gateway image ships without TensorFlow
            raise RuntimeError(
                "TensorFlow is not installed, so the model cannot run in-process. Set "
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
        backend = cls(tf.saved_model.load(str(model_dir)), model_dir, batch_size)
        # The first call traces and optimises the graph (~0.5 s); pay it at start, not on a user.
        backend._run(np.zeros((1, 64, 64, 3), np.float32))
        return backend

    def _run(self, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        parts = []
        for part in chunks(batch, self._batch_size):
            outputs = self._signature(**{self._input_key: tf.constant(part, dtype=tf.float32)})
            (output,) = outputs.values()
            parts.append(output.numpy().reshape(len(part), -1))
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)

    async def predict(self, crops: np.ndarray) -> Scored:
        loop = asyncio.get_running_loop()
        raw = await loop.run_in_executor(self._executor, self._run, to_model_input(crops))
        return Scored(check_scores(raw, len(crops), "The embedded model"), self.model_dir.name)

    async def status(self) -> BackendStatus:
        if self._closed:
            return BackendStatus(ready=False, detail="embedded model is shut down")
        return BackendStatus(
            ready=True, detail=f"embedded SavedModel {self.model_dir}", version=self.model_dir.name
        )

    async def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
