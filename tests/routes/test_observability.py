"""Readiness with an end-to-end probe, Prometheus metrics, request ids and the access log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MODEL, AppFactory
from tests.support.tf_serving import Fault, TFServingTestServer


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample in /metrics (0 when absent)."""
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def predict(client: TestClient, video: Path, **headers: str) -> object:
    return client.post("/predict", headers=headers, files={"file": ("v.mp4", video.read_bytes())})


def test_ready_when_a_known_clip_scores_end_to_end(make_client: AppFactory) -> None:
    response = make_client().get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"] == {"backend": "ok", "pipeline": "ok"}
    assert (body["model"], body["version"]) == (MODEL, "1")


def test_ready_follows_the_model_server(
    make_client: AppFactory, serving: TFServingTestServer
) -> None:
    client = make_client(TF_SERVING_URL=serving.url, READY_CACHE_SECONDS=0)
    assert client.get("/health/ready").status_code == 200
    serving.state.set_state(MODEL, 1, "LOADING")
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert "LOADING" in response.json()["checks"]["backend"]
    assert "pipeline" not in response.json()["checks"]
    serving.state.set_state(MODEL, 1, "AVAILABLE")
    assert client.get("/health/ready").json()["ready"] is True


def test_ready_fails_when_the_model_answers_nonsense(
    make_client: AppFactory, serving: TFServingTestServer
) -> None:
    client = make_client(TF_SERVING_URL=serving.url, READY_CACHE_SECONDS=0, BACKEND_RETRIES=0)
    serving.state.inject(Fault(200, b'{"predictions": [[NaN]]}', method="POST"))
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["backend"] == "ok"  # the status alone would have said ready
    assert "backend_bad_response" in checks["pipeline"]


def test_ready_verdicts_are_cached(make_client: AppFactory, serving: TFServingTestServer) -> None:
    client = make_client(TF_SERVING_URL=serving.url, READY_CACHE_SECONDS=60)
    client.get("/health/ready")
    before = len(serving.state.requests)
    for _ in range(5):
        assert client.get("/health/ready").status_code == 200
    assert len(serving.state.requests) == before


def test_metrics_move_after_a_request(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client()
    route = {"route": "/predict", "method": "POST", "status": "200"}
    before = sample(client, "gateway_requests_total", **route)
    assert predict(client, videos["short"]).status_code == 200  # type: ignore[attr-defined]
    assert sample(client, "gateway_requests_total", **route) == before + 1
    for stage in ("decode", "detect", "score", "provenance"):
        assert sample(client, "gateway_stage_seconds_count", stage=stage) == 1
    assert sample(client, "gateway_provenance_total", summary="no_provenance") == 1
    assert sample(client, "gateway_sampled_frames_sum") == 2
    assert sample(client, "gateway_face_frames_sum") == 2
    assert sample(client, "gateway_video_score_count", model_version="1") == 1
    client.get("/health/ready")  # the probe clip is not a user's video: no drift signal
    assert sample(client, "gateway_video_score_count", model_version="1") == 1
    assert sample(client, "gateway_requests_in_flight") == 1  # the /metrics request itself


def test_backend_errors_are_counted_by_kind(
    make_client: AppFactory, serving: TFServingTestServer, videos: dict[str, Path]
) -> None:
    client = make_client(TF_SERVING_URL=serving.url, BACKEND_RETRIES=0)
    serving.state.inject(Fault(503, method="POST"), Fault(500, method="POST"))
    predict(client, videos["short"])
    predict(client, videos["short"])
    assert sample(client, "gateway_backend_errors_total", code="backend_unavailable") == 1
    assert sample(client, "gateway_backend_errors_total", code="backend_error") == 1
    route = {"route": "/predict", "status": "503"}
    assert sample(client, "gateway_requests_total", **route) == 1


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logger = logging.getLogger("api.access")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="api.access")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_one_structured_line_per_request(
    make_client: AppFactory, videos: dict[str, Path], access_log: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    response = predict(client, videos["short"])
    request_id = response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    lines = [json.loads(r.getMessage()) for r in access_log.records if r.name == "api.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == request_id
    assert (line["route"], line["status"], line["model_version"]) == ("/predict", 200, "1")
    assert line["upload_bytes"] == videos["short"].stat().st_size
    assert (line["sampled_frames"], line["face_frames"]) == (2, 2)
    for stage in ("decode_ms", "detect_ms", "score_ms", "provenance_ms", "duration_ms"):
        assert line[stage] >= 0
    assert (line["provenance"], line["provenance_error"]) == ("no_provenance", None)
    assert len(access_log.records[0].getMessage()) < 1000  # no upload content


@pytest.mark.parametrize(
    ("incoming", "kept"), [("trace-42.a_b", True), ("has spaces", False), ("x" * 65, False)]
)
def test_request_id_is_taken_from_the_caller_when_sane(
    make_client: AppFactory, incoming: str, kept: bool
) -> None:
    response = make_client().get("/health/live", headers={"X-Request-ID": incoming})
    assert (response.headers["X-Request-ID"] == incoming) is kept
    assert len(response.headers["X-Request-ID"]) <= 64


def test_errors_are_logged_with_their_status(
    make_client: AppFactory, access_log: pytest.LogCaptureFixture
) -> None:
    make_client().post("/predict", files={"file": ("x.mp4", b"text")})
    line = json.loads(access_log.records[-1].getMessage())
    assert (line["status"], line["route"]) == (415, "/predict")
