"""docker-compose*.yml: valid for Docker Compose v2, and right on what an operator relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from settings import PROJECT_ROOT, Settings
from tests.deploy.conftest import compose_config, run_compose

PINNED = re.compile(r"^tensorflow/serving:\d+\.\d+\.\d+$")


def test_a_misspelt_key_is_caught_by_the_validator(tmp_path: Path) -> None:
    """The tool really validates: a typo fails, so a pass below means something."""
    bad = (PROJECT_ROOT / "docker-compose.yml").read_text().replace("healthcheck:", "healthchek:")
    copy = PROJECT_ROOT / f".compose-typo-{tmp_path.name}.yml"
    copy.write_text(bad)
    try:
        result = run_compose(copy.name, "config", "-q")
    finally:
        copy.unlink()
    assert result.returncode != 0
    assert "healthchek" in result.stderr


def test_tf_serving_is_pinned_and_reads_the_committed_configs(base_compose: dict[str, Any]) -> None:
    tfs = base_compose["services"]["tfserving"]
    assert PINNED.match(tfs["image"]), tfs["image"]
    (mount,) = tfs["volumes"]
    assert (mount["source"], mount["target"], mount["read_only"]) == (
        str(PROJECT_ROOT / "models"),
        "/models",
        True,
    )
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in tfs["command"])
    assert flags["rest_api_port"] == "8501"
    assert flags["enable_batching"] == "true"
    for key in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        in_container = Path(flags[key])
        on_host = PROJECT_ROOT / "models" / in_container.relative_to("/models")
        assert on_host.is_file(), f"{key}={in_container} is not in ./models"


def test_tf_serving_healthcheck_waits_for_an_available_version(
    base_compose: dict[str, Any],
) -> None:
    check = base_compose["services"]["tfserving"]["healthcheck"]
    script = check["test"][-1]
    assert "/v1/models/deepfake/labels/stable" in script
    assert '"AVAILABLE"' in script
    assert check["retries"] >= 1


def test_api_talks_to_tf_serving_once_it_is_healthy(base_compose: dict[str, Any]) -> None:
    api = base_compose["services"]["api"]
    env = api["environment"]
    assert env["TF_SERVING_URL"] == "http://tfserving:8501"
    assert env["BACKEND"] == "tfserving"
    assert env["MODEL_VERSION_LABEL"] == "stable"
    assert api["depends_on"]["tfserving"]["condition"] == "service_healthy"
    assert "/health/ready" in api["healthcheck"]["test"][-1]
    assert [(p["published"], p["target"]) for p in api["ports"]] == [("8000", 8000)]
    for service in base_compose["services"].values():
        assert service["restart"] == "unless-stopped"
        assert service["deploy"]["resources"]["limits"]["memory"]
        assert service["deploy"]["resources"]["limits"]["cpus"]


@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.scale.yml"]])
def test_api_caps_malloc_arenas_and_runs_the_image_entry_point(files: list[str]) -> None:
    api = compose_config(*files)["services"]["api"]
    assert api["environment"]["MALLOC_ARENA_MAX"] == "2"
    # No command of its own: the image's CMD (python -m api.server) runs.
    assert api.get("command") in (None, ["python", "-m", "api.server"])
    assert api.get("entrypoint") is None


def test_api_environment_is_valid_for_the_gateway(base_compose: dict[str, Any]) -> None:
    env = {k: v for k, v in base_compose["services"]["api"]["environment"].items() if v != ""}
    env.pop("MALLOC_ARENA_MAX")  # for glibc, not a setting
    settings = Settings(_env_file=None, **env)
    assert settings.MODEL_VERSION_LABEL == "stable"
    assert settings.THRESHOLD is None  # the model card's threshold applies


def test_auth_override_demands_a_key() -> None:
    refused = run_compose("docker-compose.yml", "docker-compose.auth.yml", "config", "-q")
    assert refused.returncode != 0
    assert "set API_KEYS" in refused.stderr
    config = compose_config(
        "docker-compose.yml", "docker-compose.auth.yml", env={"API_KEYS": "k1,k2"}
    )
    env = config["services"]["api"]["environment"]
    assert (env["REQUIRE_AUTH"], env["API_KEYS"]) == ("true", "k1,k2")


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    return compose_config("docker-compose.scale.yml")


def test_scaled_profile_puts_replicas_behind_nginx(scaled: dict[str, Any]) -> None:
    services = scaled["services"]
    assert set(services) == {"api", "tfserving", "lb"}
    assert "ports" not in services["api"]  # replicas cannot share a host port
    assert "ports" not in services["tfserving"]
    assert services["api"]["environment"]["TF_SERVING_URL"] == "http://lb:8501"
    assert [p["published"] for p in services["lb"]["ports"]] == ["8080"]
    assert services["lb"]["depends_on"]["tfserving"]["condition"] == "service_healthy"
    # Not api "healthy": the gateways' readiness needs the balancer, which would deadlock.
    assert services["lb"]["depends_on"]["api"]["condition"] == "service_started"
    nginx = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    assert "server api:8000;" in nginx
    assert "server tfserving:8501;" in nginx
    assert "listen 8080;" in nginx
    assert "listen 8501;" in nginx


def test_batching_fits_the_gateway_batch_size() -> None:
    text = (PROJECT_ROOT / "models" / "serving" / "batching.config").read_text()
    match = re.search(r"max_batch_size\s*\{\s*value:\s*(\d+)", text)
    assert match
    assert Settings.model_fields["BATCH_SIZE"].default <= int(match.group(1))


def nginx_values(directive: str) -> list[str]:
    text = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    found = [ln for ln in lines if ln.startswith(directive + " ")]
    return [ln.removeprefix(directive).strip(" ;") for ln in found]


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def kib(value: str) -> int:
    match = re.fullmatch(r"(\d+)k", value)
    assert match, value
    return int(match.group(1)) * 1024


def test_nginx_timeouts_let_the_gateway_answer_first() -> None:
    """Where nginx and the gateway could both give up, the gateway must come first, so the
    client gets its JSON answer (408 upload_timeout, 504 backend_timeout), not nginx's."""
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    (body,) = nginx_values("client_body_timeout")
    (send,) = nginx_values("proxy_send_timeout")
    assert seconds(body) > defaults["UPLOAD_IDLE_TIMEOUT"]
    assert seconds(send) > defaults["UPLOAD_IDLE_TIMEOUT"]
    gateways, tfservings = (seconds(v) for v in nginx_values("proxy_read_timeout"))
    assert gateways > 2 * defaults["REQUEST_TIMEOUT"]  # several TF Serving calls per video
    assert tfservings > defaults["REQUEST_TIMEOUT"]


def test_nginx_lets_through_every_head_the_gateway_accepts() -> None:
    (buffers,) = nginx_values("large_client_header_buffers")
    number, size = buffers.split()
    # A head of MAX_HEADER_BYTES may be one line: each buffer must hold it.
    assert kib(size) >= Settings.model_fields["MAX_HEADER_BYTES"].default
    assert int(number) * kib(size) > Settings.model_fields["MAX_HEADER_BYTES"].default
    assert nginx_values("error_page") == ["494 =431 @head_too_large"]
