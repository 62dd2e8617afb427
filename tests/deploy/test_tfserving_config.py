"""TF Serving's config files, parsed as the server parses them.

models.config goes through the real ModelServerConfig proto from tensorflow-serving-api. That
package does not ship BatchingParameters or MonitoringConfig, so those two messages are declared
here, field for field as in tensorflow_serving/servables/tensorflow/session_bundle_config.proto
and tensorflow_serving/config/monitoring_config.proto; protobuf's text parser then rejects a
misspelt field or a wrong type exactly as the server would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,  # noqa: F401  (registers wrappers.proto in the pool)
)
from tensorflow_serving.config import model_server_config_pb2

from settings import PROJECT_ROOT, Settings

SERVING = PROJECT_ROOT / "models" / "serving"
F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, type_name: str = "", repeated: bool = False) -> Any:
    field = F(name=name, number=number, type=kind)
    field.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name
    return field


def _messages() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="tests/tf_serving_config_subset.proto",
        package="tensorflow.serving.testcopy",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    int64, string = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    file.message_type.add(
        name="BatchingParameters",
        field=[
            _field("max_batch_size", 1, F.TYPE_MESSAGE, int64),
            _field("batch_timeout_micros", 2, F.TYPE_MESSAGE, int64),
            _field("max_enqueued_batches", 3, F.TYPE_MESSAGE, int64),
            _field("num_batch_threads", 4, F.TYPE_MESSAGE, int64),
            _field("thread_pool_name", 5, F.TYPE_MESSAGE, string),
            _field("allowed_batch_sizes", 6, F.TYPE_INT64, repeated=True),
            _field("pad_variable_length_inputs", 7, F.TYPE_BOOL),
        ],
    )
    file.message_type.add(
        name="PrometheusConfig",
        field=[_field("enable", 1, F.TYPE_BOOL), _field("path", 2, F.TYPE_STRING)],
    )
    file.message_type.add(
        name="MonitoringConfig",
        field=[
            _field(
                "prometheus_config",
                1,
                F.TYPE_MESSAGE,
                ".tensorflow.serving.testcopy.PrometheusConfig",
            )
        ],
    )
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(file.name)
    except KeyError:
        pool.Add(file)
    return {
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"tensorflow.serving.testcopy.{name}")
        )
        for name in ("BatchingParameters", "MonitoringConfig")
    }


MESSAGES = _messages()


def parse(path: Path, message: Any) -> Any:
    return text_format.Parse(path.read_text(), message())


def test_model_config_parses_and_matches_the_model_tree() -> None:
    config = parse(SERVING / "models.config", model_server_config_pb2.ModelServerConfig)
    (model,) = config.model_config_list.config
    assert model.name == Settings.model_fields["MODEL_NAME"].default
    assert model.model_platform == "tensorflow"
    # base_path is where docker-compose mounts ./models
    host_dir = PROJECT_ROOT / "models" / Path(model.base_path).relative_to("/models")
    versions = list(model.model_version_policy.specific.versions)
    assert versions
    for version in versions:
        assert (host_dir / str(version) / "saved_model.pb").is_file()
    assert dict(model.version_labels)["stable"] in versions


def test_model_config_typo_is_rejected() -> None:
    text = (SERVING / "models.config").read_text().replace("base_path", "basepath")
    with pytest.raises(text_format.ParseError, match="basepath"):
        text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def test_batching_parameters() -> None:
    params = parse(SERVING / "batching.config", MESSAGES["BatchingParameters"])
    assert params.HasField("max_batch_size")
    assert params.num_batch_threads.value >= 1
    assert params.batch_timeout_micros.value <= 10_000  # latency budget for one merge
    assert params.max_enqueued_batches.value > 0  # bounded queue


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("max_batch_size {", "max_batchsize {", "max_batchsize"),  # misspelt field
        ("num_batch_threads { value: 2 }", "num_batch_threads: 2", "num_batch_threads"),
        ("value: 2000", 'value: "2000"', "2000"),  # wrong type
    ],
)
def test_batching_mistakes_are_rejected(old: str, new: str, problem: str) -> None:
    text = (SERVING / "batching.config").read_text()
    assert old in text
    with pytest.raises(text_format.ParseError, match=problem):
        text_format.Parse(text.replace(old, new), MESSAGES["BatchingParameters"]())


def test_monitoring_config() -> None:
    config = parse(SERVING / "monitoring.config", MESSAGES["MonitoringConfig"])
    assert config.prometheus_config.enable
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"
    text = (SERVING / "monitoring.config").read_text().replace("enable:", "enabled:")
    with pytest.raises(text_format.ParseError, match="enabled"):
        text_format.Parse(text, MESSAGES["MonitoringConfig"]())
