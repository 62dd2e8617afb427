"""deploy/k8s: every document valid against the real Kubernetes API schemas (offline, from the
`kubernetes-validate` package), and coherent with the gateway, the image and docker-compose.

No cluster runs here. The kustomization is built in Python (resources + namespace, all this base
uses) and, where a kustomize is installed (`kubectl kustomize` or `kustomize build`), compared
with the real build.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML, installed with kubernetes-validate

from settings import PROJECT_ROOT, Settings
from tests.deploy.conftest import compose_config

K8S = PROJECT_ROOT / "deploy" / "k8s"
# The oldest Kubernetes minor this base is meant for, and the newest the package bundles: an
# API removed or a field renamed between them fails one of the two.
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
WORKLOADS = ("Deployment", "StatefulSet")
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole"}
SECRET_NAME = "deepfake-secrets"
SECRET_SETTINGS = {"API_KEYS", "JWT_SECRET", "CALLBACK_SECRET"}
# Environment a container may set that is not a Settings field: glibc's arena cap, and the
# worker's metrics port while settings.py does not have it yet (it is being added).
NOT_SETTINGS = {"MALLOC_ARENA_MAX"} | ({"WORKER_METRICS_PORT"} - set(Settings.model_fields))
GATEWAY_UID = 10001


def load(path: Path) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert all(isinstance(d, dict) for d in documents), path
    return documents


def kustomization() -> dict[str, Any]:
    (document,) = load(K8S / "kustomization.yaml")
    return document


def build() -> list[dict[str, Any]]:
    """What `kustomize build deploy/k8s` gives for this base: its resources in order, with the
    kustomization's namespace set on every namespaced object."""
    config = kustomization()
    # Any transformer added later (images, patches, labels) must be taught to this function,
    # or it would silently check something other than what is applied.
    assert set(config) <= {"apiVersion", "kind", "namespace", "resources"}, set(config)
    objects = []
    for resource in config["resources"]:
        for document in load(K8S / resource):
            document = copy.deepcopy(document)
            if document["kind"] not in CLUSTER_SCOPED:
                document["metadata"]["namespace"] = config["namespace"]
            objects.append(document)
    return objects


OBJECTS = build()


def objects(kind: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects(kind) if o["metadata"]["name"] == name]
    return found


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def the_container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec(workload)["containers"]
    found: dict[str, Any] = container
    return found


def all_workloads() -> Iterator[dict[str, Any]]:
    for kind in WORKLOADS:
        yield from objects(kind)


def workload_ids() -> list[str]:
    return [f"{w['kind']}/{w['metadata']['name']}" for w in all_workloads()]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def workloads_selected_by(selector: dict[str, str]) -> list[dict[str, Any]]:
    return [
        w for w in all_workloads() if selects(selector, w["spec"]["template"]["metadata"]["labels"])
    ]


def quantity(value: str | int) -> Decimal:
    """A Kubernetes quantity ("500m", "1Gi", "2") as a number, for comparisons."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?", str(value))
    assert match, value
    factor: dict[str | None, Decimal] = {None: Decimal(1), "m": Decimal("0.001")}
    factor |= {"k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9)}
    factor |= {"Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30)}
    factor |= {"Ti": Decimal(2**40)}
    return Decimal(match.group(1)) * factor[match.group(2)]


def config_data() -> dict[str, str]:
    data: dict[str, str] = named("ConfigMap", "deepfake-config")["data"]
    return data


# --- the validator, and the documents against it --------------------------------------------


def test_the_validator_catches_a_misspelt_field_and_a_wrong_type() -> None:
    """Strict validation really rejects mistakes, so the passes below mean something."""
    gateway = copy.deepcopy(named("Deployment", "gateway"))
    version = KUBERNETES_VERSIONS[0]
    kubernetes_validate.validate(gateway, version, strict=True)
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(gateway, version, strict=True)
    wrong = copy.deepcopy(named("Deployment", "gateway"))
    wrong["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_every_document_is_valid_for_kubernetes(path: str, version: str) -> None:
    documents = load(K8S / path)
    assert documents
    for document in documents:
        # A kind without a schema (a typo in apiVersion or kind) raises SchemaNotFoundError:
        # it fails here too, instead of being skipped as the CLI does with a warning.
        kubernetes_validate.validate(document, version, strict=True)


def test_kustomization_lists_every_file_once() -> None:
    config = kustomization()
    assert config["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert config["kind"] == "Kustomization"
    resources = config["resources"]
    assert len(resources) == len(set(resources))
    on_disk = {p.name for p in K8S.iterdir() if p.is_file()} - {"kustomization.yaml"}
    assert set(resources) == on_disk
    (namespace,) = objects("Namespace")
    assert namespace["metadata"]["name"] == config["namespace"]
    # Namespace first, so `kubectl apply -k` never creates an object before its namespace.
    assert resources[0] == "namespace.yaml"


def test_no_two_objects_share_a_kind_and_name() -> None:
    keys = [(o["kind"], o["metadata"]["name"]) for o in OBJECTS]
    assert len(keys) == len(set(keys))


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(K8S)]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(K8S)]
    return None


@pytest.mark.skipif(kustomize_command() is None, reason="no kustomize or kubectl installed")
def test_the_real_kustomize_builds_what_the_python_build_checks() -> None:
    command = kustomize_command()
    assert command
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]

    def key(o: dict[str, Any]) -> tuple[str, str, str]:
        return (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""))

    assert sorted(map(key, built)) == sorted(map(key, OBJECTS))
    by_key = {key(o): o for o in OBJECTS}
    for document in built:
        assert document == by_key[key(document)], key(document)
        kubernetes_validate.validate(document, KUBERNETES_VERSIONS[-1], strict=True)


# --- workloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("workload", list(all_workloads()), ids=workload_ids())
def test_selectors_match_their_own_pods(workload: dict[str, Any]) -> None:
    selector = workload["spec"]["selector"]["matchLabels"]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert selects(selector, labels)
    # Exactly this workload's pods: another workload matching would be adopted or fought over.
    assert workloads_selected_by(selector) == [workload]


def probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    """The container port a probe checks, resolved through the port's name."""
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    if "exec" in probe:
        # A command checking a port itself (bash /dev/tcp, redis-cli -p): it must name one.
        text = " ".join(probe["exec"]["command"])
        (port,) = {int(p) for p in ports.values() if re.search(rf"\b{p}\b", text)}
        return port
    action = probe.get("httpGet") or probe.get("tcpSocket")
    assert action, probe
    port = action["port"]
    if isinstance(port, str):
        assert port in ports, f"probe names port {port!r}, the container has {sorted(ports)}"
        return int(ports[port])
    assert port in ports.values()
    return int(port)


@pytest.mark.parametrize("workload", list(all_workloads()), ids=workload_ids())
def test_every_container_has_probes_on_its_own_ports(workload: dict[str, Any]) -> None:
    for container in pod_spec(workload)["containers"]:
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert kind in container, f"{container['name']} has no {kind}"
            probe_port(container, container[kind])


def app_get_paths() -> set[str]:
    """The paths the gateway answers GET on, from its own OpenAPI schema (included routers
    are not listed one by one in app.routes)."""
    from api.main import create_app

    app = create_app(Settings(_env_file=None))  # routes only: the lifespan does not run
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {path for path, methods in paths.items() if "get" in methods}


def test_gateway_probes_use_the_health_endpoints() -> None:
    gateway = the_container(named("Deployment", "gateway"))
    paths = app_get_paths()
    expected = {
        "readinessProbe": "/health/ready",
        "livenessProbe": "/health/live",
        "startupProbe": "/health/live",
    }
    for kind, path in expected.items():
        probe = gateway[kind]
        assert probe["httpGet"]["path"] == path
        assert path in paths  # a route the gateway really serves
        assert probe_port(gateway, probe) == Settings.model_fields["PORT"].default == 8000
    # The image's CMD listens on PORT (8000) unless told otherwise: nothing here tells it.
    assert "PORT" not in config_data()
    assert "PORT" not in {e["name"] for e in gateway.get("env", [])}


def test_worker_probes_use_its_metrics_port() -> None:
    worker = the_container(named("Deployment", "worker"))
    env = {e["name"]: e["value"] for e in worker["env"]}
    metrics_port = int(env["WORKER_METRICS_PORT"])
    if "WORKER_METRICS_PORT" in Settings.model_fields:
        field = Settings.model_fields["WORKER_METRICS_PORT"]
        assert field.default == metrics_port  # the probe also works when the env is dropped
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert probe_port(worker, worker[kind]) == metrics_port
    compose_worker = compose_config("docker-compose.yml")["services"]["worker"]
    assert worker["command"] == compose_worker["command"] == ["python", "-m", "api.jobs.worker"]
    assert f"127.0.0.1:{metrics_port}/" in compose_worker["healthcheck"]["test"][-1]


def test_a_stopping_worker_has_time_to_finish_a_frame() -> None:
    defaults = {name: f.default for name, f in Settings.model_fields.items()}
    timeout = float(config_data().get("REQUEST_TIMEOUT", defaults["REQUEST_TIMEOUT"]))
    # One TF Serving call with its retries (the longest a batch of frames can take).
    call = timeout * (1 + defaults["BACKEND_RETRIES"])
    grace = pod_spec(named("Deployment", "worker"))["terminationGracePeriodSeconds"]
    assert grace > call
    assert grace > int(config_data()["JOB_VISIBILITY_TIMEOUT"])


@pytest.mark.parametrize("workload", list(all_workloads()), ids=workload_ids())
def test_every_container_has_requests_below_limits(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request = quantity(resources["requests"][resource])
            limit = quantity(resources["limits"][resource])
            assert 0 < request <= limit, (container["name"], resource)


@pytest.mark.parametrize(
    ("kind", "name", "service"),
    [
        ("Deployment", "gateway", "api"),
        ("Deployment", "worker", "worker"),
        ("Deployment", "tfserving", "tfserving"),
        ("StatefulSet", "redis", "redis"),
    ],
)
def test_limits_match_docker_compose(kind: str, name: str, service: str) -> None:
    limits = the_container(named(kind, name))["resources"]["limits"]
    composed = compose_config("docker-compose.yml")["services"][service]["deploy"]["resources"]
    assert quantity(limits["cpu"]) == Decimal(str(composed["limits"]["cpus"]))
    assert quantity(limits["memory"]) == int(composed["limits"]["memory"])  # compose: bytes


@pytest.mark.parametrize("workload", list(all_workloads()), ids=workload_ids())
def test_every_pod_meets_the_restricted_pod_security_standard(workload: dict[str, Any]) -> None:
    spec = pod_spec(workload)
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] != 0
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for container in containers(workload):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert "add" not in context["capabilities"]
        assert context.get("runAsUser", pod["runAsUser"]) != 0
    for volume in spec.get("volumes", []):
        assert "hostPath" not in volume
    namespace = objects("Namespace")[0]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def dockerfile_uid() -> int:
    match = re.search(r"useradd .*--uid (\d+) gateway", (PROJECT_ROOT / "Dockerfile").read_text())
    assert match
    return int(match.group(1))


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_gateway_image_pods_run_as_its_user_with_a_writable_tmp(name: str) -> None:
    spec = pod_spec(named("Deployment", name))
    assert spec["securityContext"]["runAsUser"] == GATEWAY_UID == dockerfile_uid()
    assert spec["securityContext"]["fsGroup"] == GATEWAY_UID  # the job volume is writable
    mounts = {
        m["mountPath"]: m["name"] for m in the_container(named("Deployment", name))["volumeMounts"]
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    # Uploads stream to the system temp dir: with a read-only root it must be a volume.
    tmp = volumes[mounts["/tmp"]]
    assert "emptyDir" in tmp
    assert tmp["emptyDir"].get("medium") != "Memory"  # would count against the memory limit
    assert "UPLOAD_DIR" not in config_data()


# --- services, autoscalers, disruption budgets -------------------------------------------------


@pytest.mark.parametrize("service", objects("Service"), ids=lambda s: s["metadata"]["name"])
def test_services_select_pods_and_their_ports(service: dict[str, Any]) -> None:
    selected = workloads_selected_by(service["spec"]["selector"])
    assert len(selected) == 1, service["metadata"]["name"]
    (workload,) = selected
    ports = {p["name"]: p["containerPort"] for c in containers(workload) for p in c["ports"]}
    for port in service["spec"]["ports"]:
        target = port["targetPort"]
        assert target in ports if isinstance(target, str) else target in ports.values()


def test_service_names_are_the_ones_the_settings_use() -> None:
    data = config_data()
    for url, port_name in ((data["TF_SERVING_URL"], "http"), (data["REDIS_URL"], "redis")):
        parts = urlsplit(url)
        service = named("Service", str(parts.hostname))
        (port,) = [p["port"] for p in service["spec"]["ports"] if p["name"] == port_name]
        assert parts.port == port
    redis = named("StatefulSet", "redis")
    headless = named("Service", redis["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"  # a StatefulSet's governing Service


@pytest.mark.parametrize(
    "hpa", objects("HorizontalPodAutoscaler"), ids=lambda h: h["metadata"]["name"]
)
def test_autoscalers_target_workloads_that_can_be_scaled_on_cpu(hpa: dict[str, Any]) -> None:
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    target = named(ref["kind"], ref["name"])
    assert ref["apiVersion"] == target["apiVersion"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # The Deployment's own count is where the autoscaler starts: not below its minimum.
    assert target["spec"]["replicas"] >= hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilization is measured against the request: every container must have one.
    for container in containers(target):
        assert quantity(container["resources"]["requests"]["cpu"]) > 0


def test_gateways_and_workers_are_autoscaled() -> None:
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in objects("HorizontalPodAutoscaler")}
    assert targets == {"gateway", "worker"}
    text = (K8S / "worker.yaml").read_text()
    assert "KEDA" in text  # the queue-depth signal is named for the operator


@pytest.mark.parametrize("pdb", objects("PodDisruptionBudget"), ids=lambda p: p["metadata"]["name"])
def test_disruption_budgets_select_pods_and_let_a_drain_through(pdb: dict[str, Any]) -> None:
    (workload,) = workloads_selected_by(pdb["spec"]["selector"]["matchLabels"])
    replicas = workload["spec"]["replicas"]
    if "minAvailable" in pdb["spec"]:
        # minAvailable equal to the replicas would block every node drain.
        assert 1 <= pdb["spec"]["minAvailable"] < replicas
    else:
        assert 1 <= pdb["spec"]["maxUnavailable"] < replicas
    assert {p["metadata"]["name"] for p in objects("PodDisruptionBudget")} == {"gateway", "worker"}


def test_only_gateways_and_workers_may_reach_redis() -> None:
    (policy,) = objects("NetworkPolicy")
    (redis,) = workloads_selected_by(policy["spec"]["podSelector"]["matchLabels"])
    assert redis["metadata"]["name"] == "redis"
    (rule,) = policy["spec"]["ingress"]
    allowed = {
        w["metadata"]["name"]
        for peer in rule["from"]
        for w in workloads_selected_by(peer["podSelector"]["matchLabels"])
    }
    assert allowed == {"gateway", "worker"}
    assert [p["port"] for p in rule["ports"]] == [6379]


# --- configuration, secrets, volumes, images ---------------------------------------------------


def test_config_map_keys_are_settings_and_make_valid_settings() -> None:
    data = config_data()
    assert set(data) <= set(Settings.model_fields)
    assert not set(data) & SECRET_SETTINGS  # those come from the Secret
    # With the token the Secret adds, the gateway's settings validate (REQUIRE_AUTH is on).
    settings = Settings(_env_file=None, **data, API_KEYS="from-the-secret")  # type: ignore[arg-type]
    assert settings.JOBS_BACKEND.value == "redis"
    assert settings.REQUIRE_AUTH is True
    assert settings.backend_kind.value == "tfserving"


@pytest.mark.parametrize("name", ["gateway", "worker"])
def test_pods_take_settings_from_the_config_map_and_a_secret_not_committed(name: str) -> None:
    container = the_container(named("Deployment", name))
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "deepfake-config"}} in sources
    assert {"secretRef": {"name": SECRET_NAME}} in sources  # required: not optional
    for variable in container.get("env", []):
        assert variable["name"] in set(Settings.model_fields) | NOT_SETTINGS, variable["name"]
        assert variable["name"] not in SECRET_SETTINGS
    assert not objects("Secret")
    assert f"create secret generic {SECRET_NAME}" in (K8S / "kustomization.yaml").read_text()


def test_the_job_volume_is_shared_at_job_storage_dir() -> None:
    claim = named("PersistentVolumeClaim", "deepfake-jobs")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    job_dir = config_data()["JOB_STORAGE_DIR"]
    for name in ("gateway", "worker"):
        workload = named("Deployment", name)
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        (mount,) = [m for m in the_container(workload)["volumeMounts"] if m["mountPath"] == job_dir]
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "deepfake-jobs"
        assert not mount.get("readOnly")  # gateways write uploads, workers remove them
    # The same directory as in docker-compose.yml and the Dockerfile.
    composed = compose_config("docker-compose.yml")["services"]
    assert composed["api"]["environment"]["JOB_STORAGE_DIR"] == job_dir
    assert job_dir in (PROJECT_ROOT / "Dockerfile").read_text()


def test_models_come_from_one_read_only_volume() -> None:
    claim = named("PersistentVolumeClaim", "deepfake-models")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # many nodes; operators write it
    base_path = config_data()["MODEL_BASE_PATH"]
    for kind, name, path in (
        ("Deployment", "tfserving", "/models"),
        ("Deployment", "gateway", base_path),
        ("Deployment", "worker", base_path),
    ):
        workload = named(kind, name)
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        (mount,) = [m for m in the_container(workload)["volumeMounts"] if m["mountPath"] == path]
        assert mount["readOnly"] is True
        assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == "deepfake-models"


def test_tf_serving_runs_as_in_compose_and_is_ready_only_when_available() -> None:
    container = the_container(named("Deployment", "tfserving"))
    composed = compose_config("docker-compose.yml")["services"]["tfserving"]
    assert container["image"] == composed["image"]
    assert container["args"] == composed["command"]
    for kind in ("readinessProbe", "startupProbe"):
        script = container[kind]["exec"]["command"][-1]
        assert script == composed["healthcheck"]["test"][-1]
        assert '"AVAILABLE"' in script


def test_redis_persists_its_queue_on_its_own_volume() -> None:
    redis = named("StatefulSet", "redis")
    container = the_container(redis)
    composed = compose_config("docker-compose.yml")["services"]["redis"]
    assert container["image"] == composed["image"]
    assert container["args"] == composed["command"]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    (template,) = redis["spec"]["volumeClaimTemplates"]
    (mount,) = container["volumeMounts"]
    assert (mount["name"], mount["mountPath"]) == (template["metadata"]["name"], "/data")
    assert redis["spec"]["replicas"] == 1  # one primary: SAQ's queue is not sharded
    assert "redis-cli" in " ".join(container["readinessProbe"]["exec"]["command"])


@pytest.mark.parametrize("workload", list(all_workloads()), ids=workload_ids())
def test_images_are_pinned(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        name, _, tag = container["image"].rpartition(":")
        assert name, container["image"]
        assert "/" not in tag, container["image"]  # a tag, not a registry port
        assert tag != "latest"
        assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9]+)?", tag), container["image"]


def test_gateways_and_workers_run_one_image() -> None:
    images = {the_container(named("Deployment", n))["image"] for n in ("gateway", "worker")}
    assert len(images) == 1
    (image,) = images
    assert image.startswith("deepfake-gateway:")
    assert "command" not in the_container(named("Deployment", "gateway"))  # the image's CMD
