"""The model run in-process (LiteRT and TensorFlow): same scores as TF Serving, clear failures,
clean shutdown."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from api.backends import EmbeddedBackend, TFServingBackend
from api.backends.embedded import choose_runtime
from settings import PROJECT_ROOT, EmbeddedRuntime
from tests.conftest import MODEL
from tests.support.models import expected_scores, export_default_only, random_crops
from tests.support.tf_serving import TFServingTestServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[EmbeddedRuntime.LITERT, EmbeddedRuntime.TENSORFLOW])
async def embedded(
    request: pytest.FixtureRequest, model_base: Path
) -> AsyncIterator[EmbeddedBackend]:
    """The same test model on each runtime in turn."""
    backend = await asyncio.to_thread(
        EmbeddedBackend.load, model_base / MODEL / "1", batch_size=4, runtime=request.param
    )
    assert backend.runtime == f"embedded/{request.param}"
    yield backend
    await backend.close()


async def test_scores_are_the_model_function(embedded: EmbeddedBackend) -> None:
    batch = random_crops(10, 4)
    scores = (await embedded.predict(batch)).scores  # 3 chunks of <= 4
    assert scores.shape == (10,)
    np.testing.assert_allclose(scores, expected_scores(batch), atol=1e-5)


async def test_same_scores_as_tf_serving(
    embedded: EmbeddedBackend, serving: TFServingTestServer
) -> None:
    batch = random_crops(7, 5)
    async with httpx.AsyncClient() as client:
        remote = (await TFServingBackend(client, serving.url, MODEL, 1).predict(batch)).scores
    np.testing.assert_allclose((await embedded.predict(batch)).scores, remote, atol=1e-6)


async def test_status_and_close(embedded: EmbeddedBackend) -> None:
    assert (await embedded.status()).ready
    await embedded.close()
    status = await embedded.status()
    assert not status.ready
    assert "shut down" in status.detail


def test_auto_takes_litert_when_the_version_has_a_tflite(model_base: Path, tmp_path: Path) -> None:
    assert choose_runtime(model_base / MODEL / "1", EmbeddedRuntime.AUTO) is EmbeddedRuntime.LITERT
    older = export_default_only(tmp_path, MODEL, 1)  # a SavedModel without model.tflite
    assert choose_runtime(older, EmbeddedRuntime.AUTO) is EmbeddedRuntime.TENSORFLOW
    with pytest.raises(FileNotFoundError, match="EMBEDDED_RUNTIME=tensorflow"):
        choose_runtime(older, EmbeddedRuntime.LITERT)


def test_the_litert_gateway_never_imports_tensorflow(model_base: Path) -> None:
    """The point of LiteRT: the in-process model without TensorFlow's ~800 MB."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked pytest process.
    code = (
        "import sys; from pathlib import Path; from api.backends import EmbeddedBackend;"
        f"b = EmbeddedBackend.load(Path({str(model_base / MODEL / '1')!r}), batch_size=8);"
        "import api.main;"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(b.runtime, 'tensorflow' in sys.modules, int(hwm) // 1024)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    runtime, imported, peak_mb = done.stdout.split()
    assert (runtime, imported) == ("embedded/litert", "False")
    assert int(peak_mb) < 300


def test_missing_model_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="MODEL_BASE_PATH"):
        EmbeddedBackend.load(tmp_path / "deepfake" / "1", batch_size=8)
