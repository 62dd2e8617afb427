"""Shared fixtures: generated videos, small SavedModels, a TF Serving test server, settings."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from settings import Settings
from tests.support.models import export_channel_mean
from tests.support.tf_serving import TFServingTestServer
from tests.support.videos import make_video

MODEL = "deepfake"
SIZED = 96  # the crop size of sized_model_base's v2


@pytest.fixture(scope="session")
def model_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MODEL_BASE_PATH with deepfake v1 = mean red channel, v2 = mean green channel."""
    base = tmp_path_factory.mktemp("models")
    export_channel_mean(base, MODEL, 1, "red")
    export_channel_mean(base, MODEL, 2, "green")
    return base


def _serve(base: Path) -> Iterator[TFServingTestServer]:
    with TFServingTestServer() as server:
        server.state.load(MODEL, base / MODEL)
        yield server


def _reset(server: TFServingTestServer) -> None:
    """Faults, labels and version states back to how the server started; held requests go."""
    server.state.faults.clear()
    server.state.release()
    server.state.labels.clear()
    for servable in server.state.models[MODEL].values():
        servable.state = "AVAILABLE"


@pytest.fixture(scope="session")
def tf_serving(model_base: Path) -> Iterator[TFServingTestServer]:
    yield from _serve(model_base)


@pytest.fixture
def serving(tf_serving: TFServingTestServer) -> Iterator[TFServingTestServer]:
    """The session's server, reset after each test."""
    yield tf_serving
    _reset(tf_serving)


@pytest.fixture(scope="session")
def sized_model_base(model_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MODEL_BASE_PATH with deepfake v1 = model_base's v1 (mean red channel of 64 px crops),
    v2 = mean red channel of SIZED px crops: a model of another input size."""
    base = tmp_path_factory.mktemp("sized_models")
    shutil.copytree(model_base / MODEL / "1", base / MODEL / "1")
    export_channel_mean(base, MODEL, 2, "red", size=SIZED)
    return base


@pytest.fixture(scope="session")
def sized_tf_serving(sized_model_base: Path) -> Iterator[TFServingTestServer]:
    yield from _serve(sized_model_base)


@pytest.fixture
def sized_serving(sized_tf_serving: TFServingTestServer) -> Iterator[TFServingTestServer]:
    """sized_model_base on the test server, reset after each test."""
    yield sized_tf_serving
    _reset(sized_tf_serving)


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real MP4 files, 640x360 unless named otherwise."""
    root = tmp_path_factory.mktemp("videos")
    return {
        # 4 s at 10 fps, a face in every frame.
        "faces": make_video(root / "faces.mp4", seconds=4, fps=10),
        # 4 s at 10 fps, a face only during the first and third second.
        "mixed": make_video(
            root / "mixed.mp4", seconds=4, fps=10, has_face=lambda i: i // 10 in (0, 2)
        ),
        # 2 s at 10 fps, no face at all.
        "no_face": make_video(root / "no_face.mp4", seconds=2, fps=10, has_face=lambda i: False),
        # 1 s at 10 fps, a face in every frame: the cheapest real request.
        "short": make_video(root / "short.mp4", seconds=1, fps=10),
        # 2 s at 25 fps, 1280x720.
        "hd": make_video(root / "hd.mp4", seconds=2, fps=25, width=1280, height=720),
    }


@pytest.fixture
def make_settings(model_base: Path, tmp_path: Path) -> Callable[..., Settings]:
    """Settings that ignore any .env file and point at the test models and a private temp dir."""
    upload_dir = tmp_path / "uploads"
    upload_dir.mkdir()

    def make(**overrides: Any) -> Settings:
        # v1 of the test models (mean red channel) unless a test asks for another version.
        values: dict[str, Any] = {
            "MODEL_BASE_PATH": model_base,
            "MODEL_VERSION": 1,
            "UPLOAD_DIR": upload_dir,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[AppFactory]:
    """Start an app (lifespan included) with settings overrides; stopped after the test."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(params=["embedded", "tfserving"])
def client(
    request: pytest.FixtureRequest, make_client: AppFactory, serving: TFServingTestServer
) -> TestClient:
    """The gateway on each backend in turn, serving the same model (mean red channel)."""
    if request.param == "embedded":
        return make_client(BACKEND="embedded")
    return make_client(TF_SERVING_URL=serving.url)
