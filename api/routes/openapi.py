"""What the routes add to the OpenAPI spec by hand: the upload form, and error answers
documented from the error classes themselves."""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

from api.deps import FIELD
from api.errors import GatewayError, InvalidRequest
from api.schemas import ErrorResponse

# The body is parsed by api.uploads as it streams, so FastAPI cannot infer it from the
# signature; describe it here so /docs shows the upload form.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "A video (MP4, WebM, MOV, AVI, ...) or an image "
                            "(JPEG, PNG, WebP, BMP)",
                        }
                    },
                }
            }
        },
    }
}

# Error answers are JSON whatever the route answers with when it succeeds.
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def error_responses(
    *errors: type[GatewayError], streaming: bool = False
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that may raise `errors`: one entry per status, described by
    each error's code and docstring. InvalidRequest (422) is always there, because FastAPI's own
    parameter validation answers with it.

    `streaming`: the route answers text/event-stream. FastAPI files a `model` under the route's
    own media type, which would document the errors as events too, so there the schema is only
    referenced; the other routes' `model` puts ErrorResponse in the spec's components."""
    unique: dict[type[GatewayError], None] = dict.fromkeys((*errors, InvalidRequest))
    by_status: dict[int, list[type[GatewayError]]] = defaultdict(list)
    for error in unique:
        by_status[error.status_code].append(error)
    model = {} if streaming else {"model": ErrorResponse}
    return {
        status: {
            **model,
            "description": "\n".join(f"- `{e.code}`: {_doc(e)}" for e in classes),
            "content": _JSON_ERROR,
        }
        for status, classes in sorted(by_status.items())
    }


def _doc(error: type[GatewayError]) -> str:
    # Its own docstring only: an inherited one would describe a different error.
    doc = error.__dict__.get("__doc__")
    if not doc:
        raise TypeError(f"{error.__name__} needs a docstring: it documents the API")
    return " ".join(inspect.cleandoc(doc).split())
