from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MODEL, AppFactory
from tests.support.tf_serving import TFServingTestServer


def test_health_when_ready(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert (body["model"], body["version"]) == (MODEL, "1")
    assert body["backend"] in {"embedded", "tfserving"}


def test_health_follows_the_model_server(
    make_client: AppFactory, serving: TFServingTestServer
) -> None:
    client = make_client(TF_SERVING_URL=serving.url)
    serving.state.set_state(MODEL, 1, "LOADING")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert "LOADING" in response.json()["detail"]
    serving.state.set_state(MODEL, 1, "AVAILABLE")
    assert client.get("/health").json()["ok"] is True


def test_liveness_needs_no_backend(make_client: AppFactory) -> None:
    client = make_client(TF_SERVING_URL="http://127.0.0.1:9")
    assert client.get("/health/live").json() == {"ok": True}


def test_swagger_ui(make_client: AppFactory) -> None:
    response = make_client().get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


def test_openapi_documents_the_upload_and_the_answer(make_client: AppFactory) -> None:
    spec = make_client().get("/openapi.json").json()
    post = spec["paths"]["/predict"]["post"]
    form = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert form["properties"]["file"]["format"] == "binary"
    assert {p["name"] for p in post["parameters"]} == {
        "fps",
        "max_frames",
        "operating_point",
        "include",
    }
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/PredictResponse"}
    answer = spec["components"]["schemas"]["PredictResponse"]
    assert {"score", "label", "frame_samples", "version", "latency_ms", "meta"} <= set(
        answer["properties"]
    )
    for status in ("413", "415", "422", "502", "503", "504"):
        assert status in post["responses"]


def test_unknown_routes_use_the_same_error_shape(make_client: AppFactory) -> None:
    response = make_client().get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found", "code": "http_404"}
