"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

Random multipart bodies, query values and headers must never produce a 5xx (the embedded
backend has no remote failures to report), every answer's status must be one the schema
documents, and every JSON body must match its documented schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from settings import Settings


@pytest.fixture(scope="module")
def running_app(model_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    upload_dir = tmp_path_factory.mktemp("fuzz-uploads")
    app = create_app(
        Settings(
            _env_file=None,
            MODEL_BASE_PATH=model_base,
            UPLOAD_DIR=upload_dir,
            BACKEND="embedded",
            MAX_UPLOAD_BYTES=200_000,
        )
    )
    with TestClient(app):  # runs the lifespan: the service exists while the fuzzer calls
        yield app
    assert list(upload_dir.iterdir()) == []


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(running_app: object) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", running_app)


CHECKS: list[Callable[..., object]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_honours_its_schema(case: schemathesis.Case[Any]) -> None:
    response = case.call()
    case.validate_response(response, checks=CHECKS)  # type: ignore[arg-type]
