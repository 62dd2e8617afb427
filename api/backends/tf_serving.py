"""TensorFlow Serving over its REST API (port 8501), with httpx.

Protocol (tensorflow_serving/model_servers/http_rest_api_handler.cc):
- status  GET  /v1/models/{name}[/versions/{v}|/labels/{l}]
          -> {"model_version_status": [{"version": "1", "state": "AVAILABLE", ...}]}
  answers 200 even while no version is AVAILABLE, so readiness reads the body;
- metadata GET /v1/models/{name}/versions/{v}/metadata -> signature_def nested twice, tensor
  sizes as strings ("-1" open): read once per version for its signature names (the wire format)
  and its crop size (serving_default's input; DEFAULT_CROP_SIZE when open);
- predict POST /v1/models/{name}/versions/{v}:predict, {"instances": [...]} -> {"predictions": ...}
  The REST answer does not say which version scored, so a label (`stable`) is first resolved to
  a version through the status endpoint (cached briefly) and the request is pinned to it: the
  version the gateway reports is the one that answered.
- errors  {"error": "<message>"} with 400, 404 (model/version not loaded, also while loading),
  429, 499, 500, 501, 503 (batch queue full), 504 (deadline).
Output floats may be bare NaN/Infinity tokens, which the stdlib parser accepts and strict
parsers reject. Request bodies are built by api.backends.wire.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from api.backends.base import (
    BackendStatus,
    Scored,
    ScoringBackend,
    check_crops,
    check_scores,
)
from api.backends.wire import Encoder, encoder_for
from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    UINT8_SIGNATURE,
    crop_size_from_shape,
)
from api.errors import (
    BackendBadResponse,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
)
from api.pipeline.batching import chunks
from settings import WireFormat

SOURCE = "TF Serving"
# Where a version's crop size is read: the image signatures, which declare [-1, S, S, 3].
SIZED_SIGNATURES = (DEFAULT_SIGNATURE, UINT8_SIGNATURE)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What the gateway reads once from a version's metadata."""

    encoder: Encoder
    crop_size: int


class TFServingBackend(ScoringBackend):
    name = "tfserving"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        model_name: str,
        model_version: int,
        *,
        version_label: str | None = None,
        batch_size: int = 64,
        wire: WireFormat = WireFormat.AUTO,
        label_ttl: float = 5.0,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.model_version = model_version
        self.version_label = version_label  # when set, it decides the version, not model_version
        self._batch_size = batch_size
        self._wire = wire
        self._infos: dict[str, VersionInfo] = {}  # per served version (signatures may differ)
        self._label_ttl = label_ttl
        self._resolved: tuple[str, float] | None = None  # (version, monotonic expiry)

    @property
    def model_url(self) -> str:
        return f"{self.base_url}/v1/models/{self.model_name}"

    @property
    def status_url(self) -> str:
        if self.version_label:
            return f"{self.model_url}/labels/{self.version_label}"
        return f"{self.model_url}/versions/{self.model_version}"

    @property
    def wanted(self) -> str:
        return f"label '{self.version_label}'" if self.version_label else f"v{self.model_version}"

    async def crop_size(self) -> int:
        return (await self._info(await self._version())).crop_size

    async def predict(self, crops: np.ndarray) -> Scored:
        version = await self._version()
        encoder = await self._checked_encoder(version, crops)
        url = f"{self.model_url}/versions/{version}:predict"
        parts = [
            await self._predict_chunk(url, encoder.body(part), len(part))
            for part in chunks(crops, self._batch_size)
        ]
        scores = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return Scored(scores, version)

    async def _checked_encoder(self, version: str, crops: np.ndarray) -> Encoder:
        """The version's encoder, once the crops are known to be of its size.

        A version's metadata is read once. With a pinned version and wire format `predict`
        itself needs none (the service asked `crop_size` first, which read it, and the version
        cannot change), so there the check uses the metadata only when it was read."""
        if self._wire is WireFormat.AUTO or self.version_label or version in self._infos:
            info = await self._info(version)
            check_crops(crops, info.crop_size, version)
            return info.encoder
        return encoder_for(self._wire)

    async def _info(self, version: str) -> VersionInfo:
        if version not in self._infos:
            url = f"{self.model_url}/versions/{version}/metadata"
            signature_def = _signature_def(_parse(await self._send("GET", url)))
            self._infos[version] = VersionInfo(
                encoder_for(self._wire, set(signature_def)),
                _crop_size(signature_def, f"{self.model_name} v{version}"),
            )
        return self._infos[version]

    async def _version(self) -> str:
        """The concrete version to score with: the pinned one, or the label's, cached briefly."""
        if not self.version_label:
            return str(self.model_version)
        now = time.monotonic()
        if self._resolved and self._resolved[1] > now:
            return self._resolved[0]
        status = _version_status(_parse(await self._send("GET", self.status_url)), self)
        if not status.ready or status.version is None:
            raise BackendUnavailable(status.detail, headers={"Retry-After": "5"})
        self._resolved = (status.version, now + self._label_ttl)
        return status.version

    async def _predict_chunk(self, url: str, body: bytes, rows: int) -> np.ndarray:
        response = await self._send("POST", url, content=body)
        data = _parse(response)
        if not isinstance(data, dict) or "predictions" not in data:
            raise BackendBadResponse(
                f"{SOURCE} answered without 'predictions': {_snippet(response.text)}"
            )
        return check_scores(data["predictions"], rows, SOURCE)

    async def status(self) -> BackendStatus:
        try:
            data = _parse(await self._send("GET", self.status_url))
        except BackendError as exc:
            return BackendStatus(ready=False, detail=exc.message)
        return _version_status(data, self)

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
            raise _http_error(response, self.model_name, self.wanted)
        return response


def _signature_def(metadata: Any) -> dict[str, Any]:
    """The signatures by name, from GET .../metadata (signature_def is nested twice)."""
    try:
        signature_def = metadata["metadata"]["signature_def"]["signature_def"]
    except (KeyError, TypeError):
        signature_def = None
    if not isinstance(signature_def, dict):
        raise BackendBadResponse(
            f"{SOURCE} answered the version's metadata without signature_def: "
            f"{_snippet(json.dumps(metadata))}"
        )
    return signature_def


def _crop_size(signature_def: dict[str, Any], servable: str) -> int:
    """The crop size the first image signature's input declares (DEFAULT_CROP_SIZE when it
    leaves it open, or when the version has no image signature)."""
    name = next((n for n in SIZED_SIGNATURES if n in signature_def), None)
    if name is None:
        return DEFAULT_CROP_SIZE
    try:
        (tensor,) = signature_def[name]["inputs"].values()
        size = crop_size_from_shape(_dims(tensor.get("tensor_shape") or {}))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BackendBadResponse(
            f"{SOURCE} describes {servable}'s '{name}' input in a way the gateway cannot crop "
            f"for (one square image input [-1, S, S, 3] expected): {exc}"
        ) from exc
    return size


def _dims(tensor_shape: dict[str, Any]) -> list[int | None] | None:
    """A TensorShapeProto as JSON (sizes as strings, "-1" open) -> its dimensions."""
    if tensor_shape.get("unknown_rank"):
        return None
    sizes = [int(dim.get("size", -1)) for dim in tensor_shape.get("dim", [])]
    return [None if size < 0 else size for size in sizes]


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


def _http_error(response: httpx.Response, model: str, wanted: str) -> BackendError:
    """Map a TF Serving error status to the gateway's own, keeping TF Serving's message."""
    code, message = response.status_code, _server_message(response)
    retry = {"Retry-After": "5"}
    if code == 404:
        return BackendUnavailable(
            f"Model '{model}' {wanted} is not loaded on {SOURCE} "
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


def _version_status(data: Any, backend: TFServingBackend) -> BackendStatus:
    """Read the status body: ready only when the wanted version (or the label's) is AVAILABLE."""
    model, wanted = backend.model_name, backend.wanted
    pinned = None if backend.version_label else str(backend.model_version)
    entries = data.get("model_version_status") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        return BackendStatus(ready=False, detail=f"{SOURCE} answered without model_version_status")
    entries = [e for e in entries if isinstance(e, dict)]
    if pinned is not None:
        entries = [e for e in entries if str(e.get("version")) == pinned]
    if not entries:
        return BackendStatus(ready=False, detail=f"{SOURCE} does not serve {model} {wanted}")
    version, state = str(entries[0].get("version", "?")), entries[0].get("state", "UNKNOWN")
    if state == "AVAILABLE":
        return BackendStatus(
            ready=True, detail=f"{model} v{version} AVAILABLE on {SOURCE}", version=version
        )
    error = (entries[0].get("status") or {}).get("error_message") or ""
    return BackendStatus(
        ready=False, detail=f"{model} {wanted} is {state} on {SOURCE} {error}".strip()
    )
