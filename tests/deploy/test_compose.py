"""docker-compose*.yml: valid for Docker Compose v2, and right on what an operator relies on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from settings import PROJECT_ROOT, Settings
from tests.deploy.conftest import compose_config, run_compose

PINNED = re.compile(r"^tensorflow/serving:\d+\.\d+\.\d+$")
REDIS_PINNED = re.compile(r"^redis:\d+\.\d+\.\d+-alpine$")
JOB_DIR = "/var/lib/deepfake/jobs"


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
    services = compose_config(*files)["services"]
    api = services["api"]
    assert api["environment"]["MALLOC_ARENA_MAX"] == "2"
    # No command of its own: the image's CMD (python -m api.server) runs.
    assert api.get("command") in (None, ["python", "-m", "api.server"])
    assert api.get("entrypoint") is None
    worker = services["worker"]
    assert worker["environment"]["MALLOC_ARENA_MAX"] == "2"
    # The module, not the `deepfake-worker` script: the image installs with --no-root.
    assert worker["command"] == ["python", "-m", "api.jobs.worker"]
    assert worker.get("entrypoint") is None


def test_api_environment_is_valid_for_the_gateway(base_compose: dict[str, Any]) -> None:
    env = {k: v for k, v in base_compose["services"]["api"]["environment"].items() if v != ""}
    env.pop("MALLOC_ARENA_MAX")  # for glibc, not a setting
    settings = Settings(_env_file=None, **env)
    assert settings.MODEL_VERSION_LABEL == "stable"
    assert settings.THRESHOLD is None  # the model card's threshold applies


def test_redis_is_pinned_persistent_private_and_checked(base_compose: dict[str, Any]) -> None:
    redis = base_compose["services"]["redis"]
    assert REDIS_PINNED.match(redis["image"]), redis["image"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    # A queue must not lose keys to eviction when memory runs out.
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    (mount,) = redis["volumes"]
    assert (mount["type"], mount["source"], mount["target"]) == ("volume", "redis-data", "/data")
    assert "redis-data" in base_compose["volumes"]
    # Reached over the compose network only; a published port may only be loopback.
    assert all(p.get("host_ip") == "127.0.0.1" for p in redis.get("ports", []))
    check = " ".join(redis["healthcheck"]["test"])
    assert "redis-cli" in check
    assert "ping" in check
    assert "PONG" in check  # -LOADING (replaying the append-only file) is not healthy


def job_mount(service: dict[str, Any]) -> dict[str, Any]:
    target = service["environment"]["JOB_STORAGE_DIR"]
    (mount,) = [m for m in service["volumes"] if m["target"] == target]
    found: dict[str, Any] = mount
    return found


@pytest.mark.parametrize("files", [["docker-compose.yml"], ["docker-compose.scale.yml"]])
def test_gateways_and_workers_share_redis_and_the_job_volume(files: list[str]) -> None:
    config = compose_config(*files)
    services = config["services"]
    api, worker = services["api"], services["worker"]
    for service in (api, worker):
        env = service["environment"]
        assert env["JOBS_BACKEND"] == "redis"
        assert env["JOB_STORAGE_DIR"] == JOB_DIR
        url = urlsplit(env["REDIS_URL"])
        # The redis service, on the port its command leaves at the default.
        assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
        assert "--port" not in services["redis"]["command"]
        mount = job_mount(service)
        assert (mount["type"], mount["source"]) == ("volume", "jobs")  # one named volume
        assert not mount.get("read_only")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "jobs" in config["volumes"]
    assert api["environment"]["REDIS_URL"] == worker["environment"]["REDIS_URL"]
    assert job_mount(api) == job_mount(worker)


def test_worker_runs_the_gateway_image_with_its_model_settings(
    base_compose: dict[str, Any],
) -> None:
    api, worker = base_compose["services"]["api"], base_compose["services"]["worker"]
    assert worker["image"] == api["image"]
    assert worker["build"] == api["build"]
    # The model and the backend exactly as the gateway has them (the worker scores frames).
    for key in (
        "BACKEND",
        "TF_SERVING_URL",
        "MODEL_NAME",
        "MODEL_VERSION_LABEL",
        "MODEL_BASE_PATH",
        "REQUEST_TIMEOUT",
        "THRESHOLD",
        "CALLBACK_SECRET",
    ):
        assert worker["environment"][key] == api["environment"][key], key
    assert [m for m in worker["volumes"] if m["target"] == "/app/models"] == [
        m for m in api["volumes"] if m["target"] == "/app/models"
    ]
    assert "ports" not in worker  # nothing to publish, and it must scale
    assert worker["depends_on"]["tfserving"]["condition"] == "service_healthy"
    assert worker["restart"] == "unless-stopped"
    env = {k: v for k, v in worker["environment"].items() if v != ""}
    env.pop("MALLOC_ARENA_MAX")
    settings = Settings(_env_file=None, **env)
    assert settings.JOBS_BACKEND.value == "redis"
    assert str(settings.JOB_STORAGE_DIR) == JOB_DIR


def test_worker_healthcheck_probes_its_metrics_port(base_compose: dict[str, Any]) -> None:
    worker = base_compose["services"]["worker"]
    port = worker["environment"]["WORKER_METRICS_PORT"]
    if "WORKER_METRICS_PORT" in Settings.model_fields:
        assert str(Settings.model_fields["WORKER_METRICS_PORT"].default) == port
    check = worker["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]  # the image has no curl or wget
    assert f"http://127.0.0.1:{port}/" in check[-1]
    assert "/health/" not in check[-1]  # not the gateway's HTTP server: workers have none


def duration(value: str) -> float:
    """A compose duration as `config` writes it ("2m0s", "1m30s", "45s")."""
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match, value
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_a_stopping_worker_may_finish_its_tf_serving_call(base_compose: dict[str, Any]) -> None:
    worker = base_compose["services"]["worker"]
    retries = Settings.model_fields["BACKEND_RETRIES"].default
    call = float(worker["environment"]["REQUEST_TIMEOUT"]) * (1 + retries)
    assert duration(worker["stop_grace_period"]) > call


def test_auth_override_demands_a_key() -> None:
    refused = run_compose("docker-compose.yml", "docker-compose.auth.yml", "config", "-q")
    assert refused.returncode != 0
    assert "set API_KEYS" in refused.stderr
    config = compose_config(
        "docker-compose.yml", "docker-compose.auth.yml", env={"API_KEYS": "k1,k2"}
    )
    env = config["services"]["api"]["environment"]
    assert (env["REQUIRE_AUTH"], env["API_KEYS"]) == ("true", "k1,k2")
    assert config["services"]["worker"]["command"] == ["python", "-m", "api.jobs.worker"]


def test_the_callback_secret_reaches_gateways_and_workers() -> None:
    config = compose_config(
        "docker-compose.yml",
        "docker-compose.auth.yml",
        env={"API_KEYS": "k1", "CALLBACK_SECRET": "s3cret"},
    )
    for name in ("api", "worker"):
        assert config["services"][name]["environment"]["CALLBACK_SECRET"] == "s3cret"
    unset = compose_config("docker-compose.yml")["services"]["worker"]["environment"]
    assert unset["CALLBACK_SECRET"] == ""  # empty means unset (env_ignore_empty)


@pytest.fixture(scope="module")
def scaled() -> dict[str, Any]:
    return compose_config("docker-compose.scale.yml")


def test_scaled_profile_puts_replicas_behind_nginx(scaled: dict[str, Any]) -> None:
    services = scaled["services"]
    assert set(services) == {"api", "worker", "tfserving", "redis", "lb"}
    # What `--scale api=3 --scale worker=2 --scale tfserving=2` needs: replicas cannot share a
    # host port or a container name.
    for name in ("api", "worker", "tfserving"):
        assert "ports" not in services[name], name
        assert "container_name" not in services[name], name
    assert services["api"]["environment"]["TF_SERVING_URL"] == "http://lb:8501"
    assert services["worker"]["environment"]["TF_SERVING_URL"] == "http://lb:8501"
    assert services["worker"]["depends_on"]["lb"]["condition"] == "service_started"
    assert services["worker"]["depends_on"]["tfserving"]["condition"] == "service_healthy"
    # Not tfserving: the gateways reach it through lb, which waits for them (no deadlock).
    assert set(services["api"]["depends_on"]) == {"redis"}
    assert "ports" not in services["redis"]
    assert [p["published"] for p in services["lb"]["ports"]] == ["8080"]
    assert services["lb"]["depends_on"]["tfserving"]["condition"] == "service_healthy"
    # Not api "healthy": the gateways' readiness needs the balancer, which would deadlock.
    assert services["lb"]["depends_on"]["api"]["condition"] == "service_started"
    nginx = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    assert "server api:8000;" in nginx
    assert "server tfserving:8501;" in nginx
    assert "listen 8080;" in nginx
    assert "listen 8501;" in nginx


def test_scaled_gateways_need_no_sticky_sessions(scaled: dict[str, Any]) -> None:
    """Any gateway answers for any job: the queue is the one Redis, the uploads the one volume."""
    api, worker = scaled["services"]["api"], scaled["services"]["worker"]
    assert api["environment"]["JOBS_BACKEND"] == worker["environment"]["JOBS_BACKEND"] == "redis"
    assert scaled["volumes"]["jobs"] == {"name": "deepfake-scaled_jobs"}  # one local volume
    upstream = re.search(
        r"upstream gateways \{([^}]*)\}", (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    )
    assert upstream
    directives = {line.split()[0] for line in upstream.group(1).split(";") if line.strip()}
    assert directives == {"server", "keepalive"}  # round-robin: no ip_hash, hash or sticky


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
