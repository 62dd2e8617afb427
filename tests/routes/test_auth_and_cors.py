"""Bearer tokens (JWT_SECRET and rotated API_KEYS), which routes they guard, and CORS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AppFactory


@pytest.mark.parametrize(
    ("token", "status"),
    [("old-key", 200), ("new-key", 200), ("the-secret", 200), ("new-ke", 401), ("", 401)],
)
def test_any_configured_key_is_accepted(
    make_client: AppFactory, videos: dict[str, Path], token: str, status: int
) -> None:
    client = make_client(REQUIRE_AUTH=True, JWT_SECRET="the-secret", API_KEYS="old-key,new-key")
    response = client.post(
        "/predict",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("f.mp4", videos["short"].read_bytes())},
    )
    assert response.status_code == status


def test_keys_alone_are_enough(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client(REQUIRE_AUTH=True, API_KEYS="k1")
    files = {"file": ("f.mp4", videos["short"].read_bytes())}
    assert client.post("/predict", files=files).status_code == 401
    ok = client.post("/predict", headers={"Authorization": "Bearer k1"}, files=files)
    assert ok.status_code == 200


def test_auth_is_checked_before_the_upload_is_read(make_client: AppFactory) -> None:
    client = make_client(REQUIRE_AUTH=True, JWT_SECRET="s", MAX_UPLOAD_BYTES=10)
    response = client.post("/predict", files={"file": ("f.mp4", b"x" * 1000)})
    assert response.status_code == 401  # not 413: nothing was read


@pytest.mark.parametrize(
    "path", ["/health", "/health/live", "/health/ready", "/docs", "/openapi.json"]
)
def test_probes_and_docs_stay_open(make_client: AppFactory, path: str) -> None:
    client = make_client(REQUIRE_AUTH=True, JWT_SECRET="s")
    assert client.get(path).status_code == 200


def test_openapi_declares_the_bearer_scheme(make_client: AppFactory) -> None:
    spec = make_client().get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert spec["paths"]["/predict"]["post"]["security"] == [{"HTTPBearer": []}]


def test_cors_allows_only_configured_origins(make_client: AppFactory) -> None:
    client = make_client(CORS_ORIGINS="https://newsroom.example")
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = client.options(
        "/predict", headers={"Origin": "https://newsroom.example", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://newsroom.example"
    assert "access-control-allow-credentials" not in allowed.headers
    refused = client.options("/predict", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers


def test_no_cors_headers_without_configuration(make_client: AppFactory) -> None:
    response = make_client().get("/health/live", headers={"Origin": "https://x.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "header", ["Bearer k1", "bearer k1", "BEARER k1", "bearer  k1", "Bearer   k1  "]
)
def test_every_spelling_that_authenticates_sees_its_own_job(
    make_client: AppFactory, videos: dict[str, Path], header: str
) -> None:
    client = make_client(BACKEND="embedded", REQUIRE_AUTH=True, API_KEYS="k1,k2")
    files = {"file": ("f.mp4", videos["short"].read_bytes())}
    created = client.post("/jobs", headers={"Authorization": header}, files=files)
    assert created.status_code == 202, created.text
    path = created.headers["Location"]
    # The owner is the key that matched, however the header that carried it was spelt.
    for spelling in (header, "Bearer k1"):
        assert client.get(path, headers={"Authorization": spelling}).status_code == 200
    assert client.get(path, headers={"Authorization": "Bearer k2"}).status_code == 404
    assert client.delete(path, headers={"Authorization": header}).status_code == 204


@pytest.mark.parametrize(
    ("require_auth", "headers", "status"),
    [
        (True, {}, 401),
        (True, {"Authorization": "Bearer wrong"}, 401),
        (True, {"Authorization": "Bearer s"}, 200),
        (False, {}, 200),
    ],
)
def test_metrics_need_the_token_when_auth_is_on(
    make_client: AppFactory, require_auth: bool, headers: dict[str, str], status: int
) -> None:
    client = make_client(REQUIRE_AUTH=require_auth, JWT_SECRET="s")
    response = client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert "gateway_requests_total" in response.text
