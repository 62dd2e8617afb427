"""Each backend reads the crop size from the version it serves: LiteRT's input tensor, the
SavedModel's serving_default, TF Serving's metadata (DEFAULT_CROP_SIZE where they leave it open),
and refuses crops of another size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from api.backends import CropSizeChanged, EmbeddedBackend, TFServingBackend
from api.backends.runtimes import Runner, litert_runner, tensorflow_runner
from api.backends.tf_serving import _crop_size
from api.contract import DEFAULT_CROP_SIZE, TFLITE_FILE
from api.errors import BackendBadResponse
from settings import EmbeddedRuntime, WireFormat
from tests.conftest import MODEL, SIZED
from tests.support.models import expected_scores, export_default_only, random_crops
from tests.support.tf_serving import Fault, TFServingTestServer
from training.saved_model import write_tflite
from training.warmup import read_warmup

pytestmark = pytest.mark.anyio
RUNTIMES = [EmbeddedRuntime.LITERT, EmbeddedRuntime.TENSORFLOW]


@pytest.fixture(scope="module")
def open_model_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deepfake v1 = mean red channel of crops of any size: its signatures leave S open."""
    base = tmp_path_factory.mktemp("open_models")
    write_tflite(export_default_only(base, MODEL, 1, uint8=True, size=None))
    return base


@pytest.fixture(scope="module")
def open_serving(open_model_base: Path) -> Iterator[TFServingTestServer]:
    with TFServingTestServer() as server:
        server.state.load(MODEL, open_model_base / MODEL)
        yield server


def runner_for(runtime: EmbeddedRuntime, model_dir: Path) -> Runner:
    if runtime is EmbeddedRuntime.LITERT:
        return litert_runner(model_dir / TFLITE_FILE, threads=1)
    return tensorflow_runner(model_dir, threads=1)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("version", "size"), [("1", DEFAULT_CROP_SIZE), ("2", SIZED)])
def test_runtimes_read_the_size_from_the_model(
    sized_model_base: Path, runtime: EmbeddedRuntime, version: str, size: int
) -> None:
    """LiteRT from the .tflite's input tensor, TensorFlow from serving_default's input spec."""
    runner = runner_for(runtime, sized_model_base / MODEL / version)
    assert runner.crop_size == size
    crops = random_crops(3, 1, size)
    np.testing.assert_allclose(runner(crops).reshape(-1), expected_scores(crops), atol=1e-5)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_open_input_takes_the_default_size(
    open_model_base: Path, runtime: EmbeddedRuntime
) -> None:
    runner = runner_for(runtime, open_model_base / MODEL / "1")
    assert runner.crop_size == DEFAULT_CROP_SIZE


@pytest.fixture(params=RUNTIMES)
async def embedded_96(
    request: pytest.FixtureRequest, sized_model_base: Path
) -> AsyncIterator[EmbeddedBackend]:
    """The 96 px version in-process; loading it runs the warm-up, which must be 96 px too."""
    backend = await asyncio.to_thread(
        EmbeddedBackend.load, sized_model_base / MODEL / "2", batch_size=4, runtime=request.param
    )
    yield backend
    await backend.close()


async def test_the_embedded_backend_scores_crops_of_its_models_size(
    embedded_96: EmbeddedBackend,
) -> None:
    assert await embedded_96.crop_size() == SIZED
    crops = random_crops(6, 2, SIZED)
    scored = await embedded_96.predict(crops)
    np.testing.assert_allclose(scored.scores, expected_scores(crops), atol=1e-5)
    with pytest.raises(CropSizeChanged, match=r"takes 96x96 crops .* cropped at 64x64"):
        await embedded_96.predict(random_crops(2, 2))


def sized_backend(
    client: httpx.AsyncClient, url: str, version: int = 2, **options: Any
) -> TFServingBackend:
    return TFServingBackend(client, url, MODEL, version, **options)


def metadata_calls(server: TFServingTestServer) -> int:
    return sum(path.endswith("/metadata") for _, path in server.state.requests)


@pytest.mark.parametrize("wire", [WireFormat.AUTO, WireFormat.UINT8, WireFormat.FLOAT])
@pytest.mark.parametrize(("version", "size"), [(1, DEFAULT_CROP_SIZE), (2, SIZED)])
async def test_tf_serving_reads_the_size_from_the_versions_metadata(
    client: httpx.AsyncClient,
    sized_serving: TFServingTestServer,
    version: int,
    size: int,
    wire: WireFormat,
) -> None:
    backend = sized_backend(client, sized_serving.url, version, wire=wire)
    before = metadata_calls(sized_serving)
    assert await backend.crop_size() == size
    crops = random_crops(5, 3, size)
    scored = await backend.predict(crops)
    np.testing.assert_allclose(scored.scores, expected_scores(crops), atol=1e-5)
    assert await backend.crop_size() == size
    assert metadata_calls(sized_serving) - before == 1  # read once per version


async def test_tf_serving_open_dimensions_mean_the_default_size(
    client: httpx.AsyncClient, open_serving: TFServingTestServer
) -> None:
    backend = TFServingBackend(client, open_serving.url, MODEL, 1)
    assert await backend.crop_size() == DEFAULT_CROP_SIZE
    crops = random_crops(2, 4)
    np.testing.assert_allclose(
        (await backend.predict(crops)).scores, expected_scores(crops), atol=1e-5
    )


async def test_a_label_gives_its_versions_size(
    client: httpx.AsyncClient, sized_serving: TFServingTestServer
) -> None:
    sized_serving.state.set_label(MODEL, "stable", 2)
    backend = sized_backend(client, sized_serving.url, 1, version_label="stable")
    assert await backend.crop_size() == SIZED


@pytest.mark.parametrize("wire", [WireFormat.AUTO, WireFormat.UINT8])
async def test_crops_of_the_old_size_are_refused_when_the_label_moves(
    client: httpx.AsyncClient, sized_serving: TFServingTestServer, wire: WireFormat
) -> None:
    """Cropped at v1's size, then the label moved to the 96 px v2: nothing is sent to it."""
    sized_serving.state.set_label(MODEL, "stable", 1)
    backend = sized_backend(client, sized_serving.url, 1, version_label="stable", label_ttl=0)
    crops = random_crops(3, 5, await backend.crop_size())
    sized_serving.state.set_label(MODEL, "stable", 2)
    before = len(sized_serving.state.requests)
    with pytest.raises(CropSizeChanged, match="version 2 takes 96x96 crops") as caught:
        await backend.predict(crops)
    assert caught.value.status_code == 503
    assert caught.value.headers["Retry-After"].isdigit()
    assert all(method == "GET" for method, _ in sized_serving.state.requests[before:])


async def test_metadata_without_signature_def_is_a_bad_response(
    client: httpx.AsyncClient, sized_serving: TFServingTestServer
) -> None:
    sized_serving.state.inject(Fault(200, b'{"model_spec": {}}', method="GET"))
    backend = sized_backend(client, sized_serving.url)
    with pytest.raises(BackendBadResponse, match="without signature_def"):
        await backend.crop_size()
    assert await backend.crop_size() == SIZED  # a failed read is not cached


def image_signature(*sizes: str, unknown_rank: bool = False) -> dict[str, Any]:
    """A signature_def entry as TF Serving's metadata writes it (sizes as strings)."""
    shape = {"dim": [{"size": s, "name": ""} for s in sizes], "unknown_rank": unknown_rank}
    return {"inputs": {"image": {"dtype": "DT_FLOAT", "tensor_shape": shape, "name": "x:0"}}}


@pytest.mark.parametrize(
    ("signature_def", "size"),
    [
        ({"serving_default": image_signature("-1", "128", "128", "3")}, 128),
        ({"serving_uint8": image_signature("-1", "224", "224", "3")}, 224),
        ({"serving_default": image_signature("-1", "-1", "-1", "3")}, DEFAULT_CROP_SIZE),
        ({"serving_default": image_signature(unknown_rank=True)}, DEFAULT_CROP_SIZE),
        ({"serving_encoded": image_signature("-1")}, DEFAULT_CROP_SIZE),  # no image input
    ],
    ids=["128", "uint8-only", "open", "unknown-rank", "encoded-only"],
)
def test_the_size_from_metadata(signature_def: dict[str, Any], size: int) -> None:
    assert _crop_size(signature_def, "deepfake v1") == size


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (image_signature("-1", "96", "64", "3"), "must be square"),
        (image_signature("-1", "x", "x", "3"), "invalid literal"),
        ({"inputs": {}}, "not enough values"),
    ],
    ids=["not-square", "not-a-number", "no-input"],
)
def test_metadata_the_gateway_cannot_crop_for(signature: dict[str, Any], message: str) -> None:
    with pytest.raises(BackendBadResponse, match=message):
        _crop_size({"serving_default": signature}, "deepfake v1")


def test_the_warmup_records_fit_the_versions_size(sized_model_base: Path) -> None:
    """TF Serving replays them before it serves the version: a 64 px record would fail."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(sized_model_base / MODEL / "2"))
    for record in read_warmup(sized_model_base / MODEL / "2"):
        request = record.predict_log.request
        ((key, proto),) = request.inputs.items()
        tensor = tf.make_ndarray(proto)
        if tensor.ndim == 4:
            assert tensor.shape[1:] == (SIZED, SIZED, 3)
        loaded.signatures[request.model_spec.signature_name](**{key: tf.constant(tensor)})
