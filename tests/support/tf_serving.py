"""A TensorFlow Serving stand-in that speaks its REST protocol and runs real SavedModels.

The real model server cannot be installed here (no binary on PyPI or Debian, no Docker engine),
so tests talk to this one. It follows tensorflow_serving/model_servers/http_rest_api_handler.cc
and json_tensor.cc on every point the gateway relies on:

- GET  /v1/models/{m}[/versions/{v}|/labels/{l}]  model_version_status, versions as strings,
                                                 200 even while nothing is AVAILABLE
- GET  /v1/models/{m}[/versions/{v}]/metadata   signature_def nested twice, sizes as strings
- POST /v1/models/{m}[/versions/{v}]:predict     "instances" (row) -> {"predictions": ...}
                                                 "inputs" (columnar) -> {"outputs": ...}
- binary strings as {"b64": "..."} objects, for string inputs only (json_tensor.h)
- errors as {"error": "..."}: 400 bad input, 404 servable not found (also while LOADING)
- NaN and Infinity written as bare tokens, as TF Serving's writer does.

Faults can be injected (status, body, delay) for the next requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROUTE = re.compile(
    r"^/v1/models/(?P<model>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?:(?P<metadata>/metadata)|:(?P<verb>predict|classify|regress))?$"
)
# A held request answers after this many seconds if no test releases it, so no handler thread
# outlives a failed test for long.
HOLD_LIMIT = 60.0
DTYPES = {"float32": "DT_FLOAT", "uint8": "DT_UINT8", "string": "DT_STRING", "int32": "DT_INT32"}


@dataclass
class Fault:
    status: int = 500
    body: bytes | None = None  # raw bytes; None -> {"error": "injected fault"}
    delay: float = 0.0  # seconds before answering
    # Answer only once the test releases held requests (`ServingState.release`): a timeout
    # under test then fires however slow the machine is, without a sleep racing it.
    hold: bool = False
    drop: bool = False  # close the connection without an answer
    method: str | None = None  # only for requests with this method ("GET" status, "POST" predict)


@dataclass
class Servable:
    version: int
    loaded: Any
    state: str = "AVAILABLE"


class ServingState:
    def __init__(self) -> None:
        self.models: dict[str, dict[int, Servable]] = {}
        self.labels: dict[str, dict[str, int]] = {}  # model -> label -> version
        self.faults: deque[Fault] = deque()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.signatures: list[str] = []  # signature_name of every predict request
        self.lock = threading.Lock()
        self._released = threading.Event()

    def load(self, name: str, base_path: Path) -> None:
        import tensorflow as tf

        versions = sorted(int(p.name) for p in base_path.iterdir() if p.name.isdigit())
        self.models[name] = {
            v: Servable(v, tf.saved_model.load(str(base_path / str(v)))) for v in versions
        }

    def set_label(self, name: str, label: str, version: int) -> None:
        self.labels.setdefault(name, {})[label] = version

    def resolve(self, model: str, version: str | None, label: str | None) -> str | None:
        """A label becomes its version; an unknown label is a 404 as in TF Serving."""
        if label is None:
            return version
        if label not in self.labels.get(model, {}):
            raise ServingError(404, f"Unrecognized servable version label: {label}")
        return str(self.labels[model][label])

    def set_state(self, name: str, version: int, state: str) -> None:
        self.models[name][version].state = state

    def inject(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def wait_released(self) -> None:
        with self.lock:
            released = self._released
        released.wait(timeout=HOLD_LIMIT)

    def release(self) -> None:
        """Let every held request answer; later held faults wait for the next release."""
        with self.lock:
            self._released.set()
            self._released = threading.Event()

    def next_fault(self, method: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method in (None, method):
                    self.faults.remove(fault)
                    return fault
            return None


class ServingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _find(state: ServingState, model: str, version: str | None) -> Servable:
    versions = state.models.get(model, {})
    label = f"Specific({model}, {version})" if version else f"Latest({model})"
    if version is not None:
        servable = versions.get(int(version))
    else:
        available = [s for s in versions.values() if s.state == "AVAILABLE"]
        servable = max(available, key=lambda s: s.version) if available else None
    if servable is None or servable.state != "AVAILABLE":
        raise ServingError(404, f"Servable not found for request: {label}")
    return servable


def _status(state: ServingState, model: str, version: str | None) -> dict[str, Any]:
    versions = state.models.get(model)
    if not versions:
        raise ServingError(404, f"Could not find any versions of model {model}")
    chosen = [versions[int(version)]] if version and int(version) in versions else []
    if version and not chosen:
        raise ServingError(404, f"Could not find version {version} of model {model}")
    entries = chosen or list(versions.values())
    return {
        "model_version_status": [
            {
                "version": str(s.version),
                "state": s.state,
                "status": {"error_code": "OK", "error_message": ""},
            }
            for s in sorted(entries, key=lambda s: -s.version)
        ]
    }


def _tensor_info(spec: Any, name: str) -> dict[str, Any]:
    dims = [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape.as_list()]
    return {
        "dtype": DTYPES.get(spec.dtype.name, spec.dtype.name),
        "tensor_shape": {"dim": dims, "unknown_rank": False},
        "name": name,
    }


def _metadata(servable: Servable, model: str) -> dict[str, Any]:
    defs = {}
    for key, fn in servable.loaded.signatures.items():
        inputs = fn.structured_input_signature[1]
        defs[key] = {
            "inputs": {n: _tensor_info(s, f"{key}_{n}:0") for n, s in inputs.items()},
            "outputs": {n: _tensor_info(s, n) for n, s in fn.structured_outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(servable.version)},
        "metadata": {"signature_def": {"signature_def": defs}},
    }


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["b64"]


def _as_input(value: Any, spec: Any) -> Any:
    import tensorflow as tf

    if spec.dtype == tf.string:
        return tf.constant(_strings(value))
    if _contains_b64(value):
        raise ServingError(400, "JSON Value: {b64} objects are only valid for string inputs")
    try:
        array = np.asarray(value)  # much faster than tf.constant on nested lists
    except ValueError as exc:
        raise ServingError(400, f"Could not parse input: {exc}") from exc
    if spec.dtype.is_integer and array.dtype.kind == "f":
        raise ServingError(400, "JSON Value not formatted as integer for integer tensor")
    try:
        return tf.constant(array, dtype=spec.dtype)
    except (ValueError, TypeError) as exc:
        raise ServingError(400, f"Could not parse input: {exc}") from exc


def _strings(value: Any) -> Any:
    """A string tensor's values: {"b64": ...} objects decoded to bytes, plain strings UTF-8."""
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if _is_b64(value):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise ServingError(400, f"Unable to base64 decode: {exc}") from exc
    if isinstance(value, str):
        return value.encode()
    raise ServingError(400, "JSON Value not formatted as string or {b64} for a string tensor")


def _contains_b64(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and _contains_b64(value[0])
    return _is_b64(value)


def _predict(state: ServingState, servable: Servable, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ServingError(400, "JSON Value: not an object")
    name = body.get("signature_name", "serving_default")
    state.signatures.append(name)
    fn = servable.loaded.signatures.get(name)
    if fn is None:
        raise ServingError(400, f'Serving signature name: "{name}" not found in signature def')
    if ("instances" in body) == ("inputs" in body):
        raise ServingError(400, "Missing 'inputs' or 'instances' key")
    specs = fn.structured_input_signature[1]
    row = "instances" in body
    if row:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise ServingError(400, "'instances' must be a non-empty list")
        if all(isinstance(i, dict) and not _is_b64(i) for i in instances):
            columns = {k: [i.get(k) for i in instances] for k in specs}
        elif len(specs) == 1:
            columns = {next(iter(specs)): instances}
        else:
            raise ServingError(400, "instances must be objects when the signature has >1 input")
    else:
        inputs = body["inputs"]
        columns = inputs if isinstance(inputs, dict) else {next(iter(specs)): inputs}
    missing = set(specs) - set(columns)
    if missing:
        raise ServingError(400, f"Missing input(s): {sorted(missing)}")
    try:
        outputs = fn(**{k: _as_input(columns[k], specs[k]) for k in specs})
    except ServingError:
        raise
    except Exception as exc:  # TF's own shape/type errors: TF Serving answers 400
        raise ServingError(400, " ".join(str(exc).split())[:500]) from exc
    values = {k: v.numpy().tolist() for k, v in outputs.items()}
    if row:
        if len(values) == 1:
            return {"predictions": next(iter(values.values()))}
        n = len(next(iter(values.values())))
        return {"predictions": [{k: v[i] for k, v in values.items()} for i in range(n)]}
    return {"outputs": next(iter(values.values())) if len(values) == 1 else values}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded requests instead."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state = self.server.state
        state.requests.append((method, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fault = state.next_fault(method)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.hold:
                state.wait_released()
            if fault.drop:
                self.close_connection = True
                return
            body = fault.body if fault.body is not None else b'{"error": "injected fault"}'
            self._send(fault.status, body)
            return
        try:
            answer = self._route(method, raw)
            self._send(200, json.dumps(answer).encode())
        except ServingError as exc:
            self._send(exc.status, json.dumps({"error": str(exc)}).encode())

    def _route(self, method: str, raw: bytes) -> dict[str, Any]:
        state = self.server.state
        match = ROUTE.match(self.path)
        if match is None:
            raise ServingError(404, f"Malformed request: {method} {self.path}")
        model = match["model"]
        version = state.resolve(model, match["version"], match["label"])
        if method == "GET" and not match["verb"]:
            if match["metadata"]:
                return _metadata(_find(state, model, version), model)
            return _status(state, model, version)
        if method == "POST" and match["verb"] == "predict":
            servable = _find(state, model, version)
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ServingError(400, f"JSON Parse error: {exc}") from exc
            return _predict(state, servable, body)
        raise ServingError(404, f"Malformed request: {method} {self.path}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServingState, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A held or delayed answer to a client that already gave up (its timeout under test)
        # is expected, not worth a traceback in the test output.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class TFServingTestServer:
    """Start with `with TFServingTestServer() as server:`; load models with `server.state.load`."""

    def __init__(self) -> None:
        self.state = ServingState()
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> TFServingTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def main(argv: list[str] | None = None) -> None:
    """Serve a model base path over TF Serving's REST protocol until interrupted (for benchmarks
    and local runs without Docker): python -m tests.support.tf_serving --model-base models"""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model-base", type=Path, required=True, help="holds <name>/<version>/")
    parser.add_argument("--name", default="deepfake")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--label", action="append", default=[], help="label=version, repeatable")
    args = parser.parse_args(argv)
    state = ServingState()
    state.load(args.name, args.model_base / args.name)
    for item in args.label:
        label, version = item.split("=")
        state.set_label(args.name, label, int(version))
    server = _Server(state, port=args.port)
    print(f"serving {args.name} on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
