"""`python -m api.server`, the gateway's one entry point, as a real process spoken to over raw
sockets: requests the HTTP parser refuses get the gateway's JSON error shape, the head limit is
MAX_HEADER_BYTES, and the server keeps serving after each refusal."""

from __future__ import annotations

import socket
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from settings import PROJECT_ROOT
from tests.deploy.conftest import gateway_process
from tests.support.environments import gateway_env
from tests.support.ports import free_port

# Not h11's default (16 KiB), so a pass shows the setting reaches the parser.
LIMIT = 8192


@dataclass
class Gateway:
    port: int
    log: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    cwd = tmp_path_factory.mktemp("server")  # outside the repository: no .env is read
    port = free_port()
    env = gateway_env(PORT=str(port), MAX_HEADER_BYTES=str(LIMIT))
    with gateway_process([sys.executable, "-m", "api.server"], env, cwd, port=port):
        yield Gateway(port, cwd / "gateway.log")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return orjson.loads(self.body)


def exchange(port: int, request: bytes) -> Answer:
    """Send `request` as it is, read until the server closes, parse the one answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def get_live(*header_lines: bytes, target: bytes = b"/health/live") -> bytes:
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: gateway", *header_lines]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def padded(size: int) -> bytes:
    """A GET /health/live whose request line plus headers are exactly `size` bytes."""
    bare = len(get_live(b"X-Pad: "))
    assert size > bare
    return get_live(b"X-Pad: " + b"p" * (size - bare))


def assert_serving(port: int) -> None:
    answer = exchange(port, get_live())
    assert (answer.status, answer.json()) == (200, {"ok": True})


REFUSED = {
    "1 MB header": (get_live(b"X-Big: " + b"a" * 2**20), 431, "MAX_HEADER_BYTES"),
    "header over the limit, sent whole": (get_live(b"X-Big: " + b"a" * 2 * LIMIT), 431, "8192"),
    "one byte over the limit": (padded(LIMIT + 1), 431, "headers"),
    "1 MB URL": (get_live(target=b"/" + b"u" * 2**20), 414, "shorten the URL"),
    "URL over the limit, sent whole": (get_live(target=b"/" + b"u" * 2 * LIMIT), 414, "URL"),
    "garbage request line": (b"GARBAGE\r\n\r\n", 400, "illegal request line"),
    "no HTTP version": (b"GET /health/live\r\nHost: g\r\n\r\n", 400, "not valid HTTP/1.1"),
    "invalid Content-Length": (
        b"POST /predict HTTP/1.1\r\nHost: g\r\nContent-Length: 12abc\r\n\r\n",
        400,
        "bad Content-Length",
    ),
    "conflicting Content-Length": (
        b"POST /predict HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        400,
        "conflicting Content-Length",
    ),
    "NUL in a header value": (get_live(b"X-Bad: a\x00b"), 400, "illegal header line"),
    "space in a header name": (get_live(b"X Bad: v"), 400, "illegal header line"),
    "no Host header": (b"GET /health/live HTTP/1.1\r\n\r\n", 400, "Host"),
    "unknown Transfer-Encoding": (
        b"POST /predict HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "chunked",
    ),
    # The head is fine and the app is already reading the upload when the body breaks.
    "broken chunk in an upload": (
        b"POST /predict HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n5\r\n--b\r\n\r\nzz\r\n",
        400,
        "illegal chunk header",
    ),
}


@pytest.mark.parametrize(("request_bytes", "status", "says"), REFUSED.values(), ids=REFUSED)
def test_refused_requests_get_the_json_error_shape(
    gateway: Gateway, request_bytes: bytes, status: int, says: str
) -> None:
    answer = exchange(gateway.port, request_bytes)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert int(answer.headers["content-length"]) == len(answer.body)
    body = answer.json()
    assert isinstance(body, dict)
    assert set(body) == {"error", "code"}
    assert body["code"] == "malformed_http"
    assert says in body["error"]
    assert "b'" not in body["error"]  # the problem is named, the client's bytes not echoed
    assert_serving(gateway.port)


@pytest.mark.parametrize("size", [LIMIT - 100, LIMIT])
def test_a_head_within_the_limit_is_served(gateway: Gateway, size: int) -> None:
    request = padded(size)
    assert len(request) == size
    answer = exchange(gateway.port, request)
    assert (answer.status, answer.json()) == (200, {"ok": True})


def test_a_websocket_upgrade_is_answered_as_plain_http(gateway: Gateway) -> None:
    answer = exchange(
        gateway.port,
        get_live(
            b"Upgrade: websocket",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            b"Sec-WebSocket-Version: 13",
            target=b"/ws",
        ).replace(b"Connection: close", b"Connection: Upgrade, close"),
    )
    assert answer.status == 404
    assert answer.json() == {"error": "Not Found", "code": "http_404"}


def test_the_server_logs_no_access_line_and_names_no_server(gateway: Gateway) -> None:
    answer = exchange(gateway.port, get_live())
    assert "server" not in answer.headers
    log = gateway.log.read_text()
    assert '"path":"/health/live"' in log  # the app's own access line
    assert '"GET /health/live HTTP/1.1" 200' not in log  # uvicorn's is off


def test_deepfake_serve_is_the_project_script() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["deepfake-serve"] == "api.server:main"
