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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from api.backends.base import (
    BackendStatus,
    Scored,
    ScoringBackend,
    check_crops,
    check_scores,
)
from api.backends.runtimes import Runner, litert_installed, litert_runner, tensorflow_runner
from api.contract import TFLITE_FILE
from api.pipeline.batching import chunks
from settings import EmbeddedRuntime

log = logging.getLogger(__name__)


def warmup_batch(size: int) -> np.ndarray:
    """One black crop at the model's own size: what the first call is paid with at load."""
    return np.zeros((1, size, size, 3), np.uint8)


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
            runner = litert_runner(model_dir / TFLITE_FILE, threads)
        else:
            runner = tensorflow_runner(model_dir, threads)
        backend = cls(runner, runtime, model_dir, batch_size)
        # The first call allocates and optimises (~0.5 s with TensorFlow): pay it at start.
        backend._run(warmup_batch(runner.crop_size))
        log.info(
            "embedded model %s runs on %s, %d px crops", model_dir, runtime.value, runner.crop_size
        )
        return backend

    @property
    def runtime(self) -> str:
        return f"embedded/{self._runtime}"

    def _run(self, crops: np.ndarray) -> np.ndarray:
        parts = [
            self._runner(part).reshape(len(part), -1) for part in chunks(crops, self._batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)

    async def crop_size(self) -> int:
        return self._runner.crop_size

    async def predict(self, crops: np.ndarray) -> Scored:
        check_crops(crops, self._runner.crop_size, self.model_dir.name)
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
    if has_tflite and litert_installed():
        return EmbeddedRuntime.LITERT
    return EmbeddedRuntime.TENSORFLOW
