"""TensorFlow Serving over its REST API (port 8501), with httpx.

Protocol (tensorflow_serving/model_servers/http_rest_api_handler.cc):
- status  GET  /v1/models/{name}  -> {"model_version_status": [{"version": "1", "state": ...}]}
  answers 200 even while no version is AVAILABLE, so readiness reads the body;
- predict POST /v1/models/{name}/versions/{v}:predict, {"instances": [...]} -> {"predictions": ...};
- errors  {"error": "<message>"} with 400, 404 (model/version not loaded, also while loading),
  429, 499, 500, 501, 503 (batch queue full), 504 (deadline).
Output floats may be bare NaN/Infinity tokens, which the stdlib parser accepts and strict
parsers reject; requests are encoded with orjson (10x faster than json for float arrays).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import orjson

from api.backends.base import BackendStatus, ScoringBackend, check_scores
from api.errors import (
    BackendBadResponse,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
)
from api.pipeline.batching import chunks

SOURCE = "TF Serving"


class TFServingBackend(ScoringBackend):
    name = "tfserving"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        model_name: str,
        model_version: int,
        *,
        batch_size: int = 64,
        signature_name: str = "serving_default",
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.model_version = model_version
        self._batch_size = batch_size
        self._signature_name = signature_name

    @property
    def status_url(self) -> str:
        return f"{self.base_url}/v1/models/{self.model_name}"

    @property
    def predict_url(self) -> str:
        # Pin the version: the answer reports MODEL_VERSION, so that version must have scored it.
        return f"{self.status_url}/versions/{self.model_version}:predict"

    async def predict(self, batch: np.ndarray) -> np.ndarray:
        parts = [await self._predict_chunk(part) for part in chunks(batch, self._batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    async def _predict_chunk(self, part: np.ndarray) -> np.ndarray:
        body = orjson.dumps(
            {"signature_name": self._signature_name, "instances": part},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        response = await self._send("POST", self.predict_url, content=body)
        data = _parse(response)
        if not isinstance(data, dict) or "predictions" not in data:
            raise BackendBadResponse(
                f"{SOURCE} answered without 'predictions': {_snippet(response.text)}"
            )
        return check_scores(data["predictions"], len(part), SOURCE)

    async def status(self) -> BackendStatus:
        try:
            response = await self._send("GET", self.status_url)
            data = _parse(response)
        except BackendError as exc:
            return BackendStatus(ready=False, detail=exc.message)
        return _version_status(data, self.model_name, self.model_version)

    async def close(self) -> None:
        """The AsyncClient belongs to the app's lifespan, which closes it."""

    async def _send(self, method: str, url: str, content: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self._client.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(
                f"{SOURCE} at {self.base_url} did not answer in time ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                f"Cannot reach {SOURCE} at {self.base_url}: {exc or type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise _http_error(response, self.model_name, self.model_version)
        return response


def _parse(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise BackendBadResponse(
            f"{SOURCE} answered with malformed JSON: {_snippet(response.text)}"
        ) from exc


def _snippet(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _server_message(response: httpx.Response) -> str:
    try:
        data = json.loads(response.content)
    except ValueError:
        return _snippet(response.text) or "(empty body)"
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return _snippet(data["error"])
    return _snippet(response.text)


def _http_error(response: httpx.Response, model: str, version: int) -> BackendError:
    """Map a TF Serving error status to the gateway's own, keeping TF Serving's message."""
    code, message = response.status_code, _server_message(response)
    retry = {"Retry-After": "5"}
    if code == 404:
        return BackendUnavailable(
            f"Model '{model}' version {version} is not loaded on {SOURCE} "
            f"(missing, or still loading): {message}",
            headers=retry,
        )
    if code in (429, 503):
        return BackendUnavailable(f"{SOURCE} is overloaded ({code}): {message}", headers=retry)
    if code in (499, 504):
        return BackendTimeout(f"{SOURCE} gave up on the request ({code}): {message}")
    if code == 400:
        return BackendError(f"{SOURCE} rejected the request as invalid (400): {message}")
    return BackendError(f"{SOURCE} failed ({code}): {message}")


def _version_status(data: Any, model: str, version: int) -> BackendStatus:
    entries = data.get("model_version_status") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return BackendStatus(
            ready=False, detail=f"{SOURCE} status answer has no model_version_status"
        )
    for entry in entries:
        if isinstance(entry, dict) and str(entry.get("version")) == str(version):
            state = entry.get("state", "UNKNOWN")
            if state == "AVAILABLE":
                return BackendStatus(ready=True, detail=f"{model} v{version} AVAILABLE on {SOURCE}")
            error = (entry.get("status") or {}).get("error_message") or ""
            return BackendStatus(
                ready=False, detail=f"{model} v{version} is {state} on {SOURCE} {error}".strip()
            )
    found = [str(e.get("version")) for e in entries if isinstance(e, dict)]
    return BackendStatus(
        ready=False, detail=f"{SOURCE} serves {model} versions {found}, not version {version}"
    )
