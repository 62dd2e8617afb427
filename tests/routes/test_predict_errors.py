"""Bad requests and a failing model server get clear JSON errors; the gateway keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import AppFactory
from tests.support.ports import closed_port_url
from tests.support.tf_serving import Fault, TFServingTestServer


def error_of(response: object, status: int, code: str) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    message: str = body["error"]
    return message


def test_no_face_anywhere_is_an_uncertain_answer(
    client: TestClient, videos: dict[str, Path]
) -> None:
    with videos["no_face"].open("rb") as f:
        response = client.post("/predict", files={"file": ("x.mp4", f, "video/mp4")})
    assert response.status_code == 200
    body = response.json()
    assert (body["verdict"], body["score"], body["label"]) == ("uncertain", None, None)
    assert [r["code"] for r in body["reasons"]] == ["no_face"]
    assert "No face was found in any of the 4 sampled frames" in body["reasons"][0]["message"]
    assert [f["faces"] for f in body["frames"]] == [[]] * 4  # reported, not scored


@pytest.mark.parametrize(
    ("files", "params", "status", "code", "message"),
    [
        (
            {"file": ("a.mp4", b"hello, I am text", "video/mp4")},
            {},
            415,
            "unsupported_media",
            "video",
        ),
        ({"file": ("a.mp4", b"", "video/mp4")}, {}, 400, "empty_file", "empty"),
        ({"video": ("a.mp4", b"xyz", "video/mp4")}, {}, 422, "missing_file", "field 'file'"),
        ({"file": ("a.mp4", b"xyz", "video/mp4")}, {"fps": 0}, 422, "invalid_request", "fps"),
        ({"file": ("a.mp4", b"xyz", "video/mp4")}, {"fps": -1}, 422, "invalid_request", "fps"),
        ({"file": ("a.mp4", b"xyz", "video/mp4")}, {"fps": 1e9}, 422, "invalid_request", "fps"),
        ({"file": ("a.mp4", b"xyz", "video/mp4")}, {"fps": "x"}, 422, "invalid_request", "fps"),
        (
            {"file": ("a.mp4", b"xyz", "video/mp4")},
            {"max_frames": 100000},
            422,
            "invalid_request",
            "MAX_FRAMES=256",
        ),
        ({"file": ("a.mp4", b"x" * 5000, "video/mp4")}, {}, 413, "file_too_large", "limit"),
    ],
)
def test_bad_input(
    make_client: AppFactory,
    videos: dict[str, Path],
    files: dict[str, tuple[str, bytes, str]],
    params: dict[str, object],
    status: int,
    code: str,
    message: str,
) -> None:
    client = make_client(MAX_UPLOAD_BYTES=4096)
    response = client.post("/predict", files=files, params=params)
    assert message in error_of(response, status, code)
    # The same app keeps serving after the error.
    health = client.get("/health")
    assert health.status_code == 200


def test_not_multipart_at_all(make_client: AppFactory) -> None:
    response = make_client().post("/predict", content=b"raw", headers={"content-type": "video/mp4"})
    assert "multipart/form-data" in error_of(response, 422, "missing_file")


def test_temp_files_are_removed_after_success_and_failure(
    make_client: AppFactory, videos: dict[str, Path], tmp_path: Path
) -> None:
    client = make_client()
    upload_dir = client.app.state.settings.UPLOAD_DIR  # type: ignore[attr-defined]
    for name in ("faces", "no_face"):
        client.post("/predict", files={"file": (name, videos[name].read_bytes())})
    client.post("/predict", files={"file": ("t.mp4", b"text")})
    client.post("/predict", files={"file": ("e.mp4", b"")})
    assert list(upload_dir.iterdir()) == []


def test_model_server_down(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client(TF_SERVING_URL=closed_port_url())
    response = client.post("/predict", files={"file": ("f.mp4", videos["faces"].read_bytes())})
    assert "Cannot reach TF Serving" in error_of(response, 503, "backend_unavailable")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["ok"] is False


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault(500), 502, "backend_error"),
        (Fault(404, b'{"error": "Servable not found"}'), 503, "backend_unavailable"),
        (Fault(503), 503, "backend_unavailable"),
        (Fault(200, b'{"predictions": [[NaN]]}'), 502, "backend_bad_response"),
        (Fault(200, b'{"predictions": 1}'), 502, "backend_bad_response"),
        (Fault(200, b"", hold=True), 504, "backend_timeout"),
    ],
)
def test_model_server_faults(
    make_client: AppFactory,
    serving: TFServingTestServer,
    videos: dict[str, Path],
    fault: Fault,
    status: int,
    code: str,
) -> None:
    # The held fault times out whatever REQUEST_TIMEOUT is; the recovery request below runs
    # under the same one, so it is generous enough for a busy machine.
    client = make_client(
        TF_SERVING_URL=serving.url, REQUEST_TIMEOUT=3.0, BACKEND_RETRIES=0, TF_SERVING_WIRE="uint8"
    )
    serving.state.inject(fault)
    data = videos["faces"].read_bytes()
    response = client.post("/predict", files={"file": ("f.mp4", data)})
    serving.state.release()
    error_of(response, status, code)
    if status == 503:
        assert response.headers["Retry-After"].isdigit()
    assert client.post("/predict", files={"file": ("f.mp4", data)}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic czNjcjN0"}, 401),
        ({"Authorization": "Bearer s3cr3t-token"}, 200),
    ],
)
def test_bearer_token_when_auth_is_required(
    make_client: AppFactory, videos: dict[str, Path], headers: dict[str, str], status: int
) -> None:
    client = make_client(REQUIRE_AUTH=True, JWT_SECRET="s3cr3t-token")
    response = client.post(
        "/predict", headers=headers, files={"file": ("f.mp4", videos["faces"].read_bytes())}
    )
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"
