"""What lives in the HTTP layer, through a real uvicorn and raw sockets: clients that stall or
stop mid-upload, bodies cut short or longer than declared, hostile boundaries, clients that go
away. Timeouts fire in the server; the tests only wait (generously) for their effects."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from settings import Settings
from tests.support.live_server import serve
from tests.support.videos import make_video

BOUNDARY = "b0undary-x"
WAIT = 30.0  # generous: the server's own timers decide, the test only waits for the effect


@dataclass
class Server:
    url: str
    upload_dir: Path

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (0 when absent)."""
        text = httpx.get(self.url + "/metrics", timeout=WAIT).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return float(s.value)
        return 0.0

    def uploads(self) -> list[Path]:
        return list(self.upload_dir.iterdir())


@pytest.fixture
def start(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Server]]:
    """Start a real uvicorn with settings overrides; stopped after the test. h11 unless told:
    the parser `python -m api.server` runs."""
    with ExitStack() as stack:

        def make(http: str = "h11", **overrides: object) -> Server:
            settings = make_settings(BACKEND="embedded", **overrides)
            url = stack.enter_context(serve(settings, http=http))
            assert settings.UPLOAD_DIR is not None
            return Server(url, settings.UPLOAD_DIR)

        yield make


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """20 s at 10 fps: seconds of work at fps=10, so a request is caught while it is scored."""
    path = make_video(tmp_path_factory.mktemp("stall") / "long.mp4", seconds=20, fps=10)
    return path.read_bytes()


def part_head(boundary: str = BOUNDARY) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()


def multipart(data: bytes, boundary: str = BOUNDARY) -> bytes:
    return part_head(boundary) + data + f"\r\n--{boundary}--\r\n".encode()


def request_head(
    path: str, content_length: int, boundary: str = BOUNDARY, headers: str = ""
) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {content_length}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n{headers}\r\n"
    ).encode()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, object]  # the JSON answer; {"text": ...} when uvicorn answered plain text


def read_answer(sock: socket.socket) -> Answer:
    """One HTTP response (with a Content-Length, as the gateway's JSON answers have)."""
    sock.settimeout(WAIT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the answer"
        rest += chunk
    text = rest[:length].decode()
    is_json = headers.get("content-type") == "application/json"
    return Answer(
        int(status_line.split()[1]), headers, json.loads(text) if is_json else {"text": text}
    )


def exchange(server: Server, raw: bytes) -> Answer:
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        sock.sendall(raw)
        return read_answer(sock)


@contextmanager
def stalled(server: Server, path: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` clients that declare a 10 MB upload, send its headers and 1 KB, and stop."""
    with ExitStack() as stack:
        socks, expected = [], len(server.uploads()) + count
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(server.address, timeout=WAIT))
            sock.sendall(request_head(path, 10_000_000) + part_head() + b"\x00" * 1024)
            socks.append(sock)
        # Each is being received once its temp file exists.
        wait_until(lambda: len(server.uploads()) == expected, f"{count} more uploads received")
        yield socks


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"waited {WAIT} s for: {what}"
        time.sleep(0.02)


def admission_is_idle(server: Server) -> bool:
    return (
        server.metric("gateway_uploads_receiving") == 0
        and server.metric("gateway_predictions_processing") == 0
    )


def test_stalled_uploads_take_no_processing_slot(start: Callable[..., Server]) -> None:
    server = start(MAX_INFLIGHT_REQUESTS=8, UPLOAD_IDLE_TIMEOUT=600)
    clip = make_clip(server)
    with stalled(server, "/predict", 8):
        files = {"file": ("clip.mp4", clip, "video/mp4")}
        for _ in range(3):  # each would have been refused 503 while the eight stall
            response = httpx.post(server.url + "/predict", files=files, timeout=WAIT)
            assert response.status_code == 200, response.text
        assert server.metric("gateway_uploads_receiving") == 8
        assert server.metric("gateway_predictions_processing") == 0
    # The clients went away: their files and slots are given back.
    wait_until(lambda: not server.uploads(), "the stalled uploads' files removed")
    wait_until(lambda: admission_is_idle(server), "admission counters back to 0")


def make_clip(server: Server) -> bytes:
    path = make_video(server.upload_dir.parent / "clip.mp4", seconds=1, fps=10)
    return path.read_bytes()


@pytest.mark.parametrize("path", ["/predict", "/jobs"])
def test_an_upload_that_stops_arriving_is_dropped_with_408(
    start: Callable[..., Server], path: str
) -> None:
    server = start(UPLOAD_IDLE_TIMEOUT=0.5)
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        sock.sendall(request_head(path, 10_000_000) + part_head() + b"\x00" * 1024)
        answer = read_answer(sock)  # no more bytes are sent: the server's timer fires
        assert answer.status == 408
        assert answer.body["code"] == "upload_timeout"
        assert "UPLOAD_IDLE_TIMEOUT" in str(answer.body["error"])
        assert answer.headers["connection"] == "close"
        assert sock.recv(1) == b""  # and it closed the connection
    assert server.uploads() == []
    wait_until(lambda: admission_is_idle(server), "admission counters back to 0")


@pytest.mark.parametrize("path", ["/predict", "/jobs"])
def test_uploads_over_max_concurrent_uploads_are_refused(
    start: Callable[..., Server], path: str
) -> None:
    server = start(MAX_CONCURRENT_UPLOADS=2, UPLOAD_IDLE_TIMEOUT=600)
    with stalled(server, "/predict", 1), stalled(server, "/jobs", 1):
        answer = exchange(server, request_head(path, len(multipart(b"x"))) + multipart(b"x"))
        assert answer.status == 503
        assert answer.body["code"] == "overloaded"
        assert "MAX_CONCURRENT_UPLOADS=2" in str(answer.body["error"])
        assert answer.headers["retry-after"] == "1"
        assert len(server.uploads()) == 2  # nothing kept of the refused one
    wait_until(lambda: not server.uploads(), "the stalled uploads' files removed")
    wait_until(lambda: admission_is_idle(server), "admission counters back to 0")


def long_boundary(clip: bytes) -> bytes:
    # python-multipart's constructor refuses boundaries over 256 characters.
    body = multipart(clip, "b" * 300)
    return request_head("/predict", len(body), "b" * 300) + body


def unclosed(clip: bytes) -> bytes:
    # No closing delimiter: the body ends right after the file's bytes.
    return request_head("/predict", len(part_head() + clip)) + part_head() + clip


def half_a_file(clip: bytes) -> bytes:
    body = part_head() + clip[: len(clip) // 2]
    return request_head("/predict", len(body)) + body


def content_length_short(clip: bytes) -> bytes:
    # The server stops reading at Content-Length, 100 bytes before the body's end.
    body = multipart(clip)
    return request_head("/predict", len(body) - 100) + body


INCOMPLETE = "ended before its closing boundary, so the upload is incomplete"


@pytest.mark.parametrize(
    ("build", "http", "statuses", "message"),
    [
        (long_boundary, "h11", {422}, "Boundary length 300 exceeds maximum of 256"),
        (long_boundary, "httptools", {422}, "Boundary length 300 exceeds maximum of 256"),
        (unclosed, "h11", {422}, INCOMPLETE),
        (unclosed, "httptools", {422}, INCOMPLETE),
        (half_a_file, "h11", {422}, INCOMPLETE),
        (content_length_short, "h11", {422}, INCOMPLETE),
        # httptools parses the 100 bytes beyond Content-Length as the next request and answers
        # 400 for them, closing the connection, sometimes before the gateway has answered.
        (content_length_short, "httptools", {400, 422}, ""),
    ],
)
def test_malformed_and_truncated_bodies_are_refused_not_scored(
    start: Callable[..., Server],
    build: Callable[[bytes], bytes],
    http: str,
    statuses: set[int],
    message: str,
) -> None:
    server = start(http=http)
    answer = exchange(server, build(make_clip(server)))
    assert answer.status in statuses, answer.body
    if answer.status == 422:
        assert answer.body["code"] == "invalid_request"
        assert message in str(answer.body["error"])
    assert server.uploads() == []
    route = {"route": "/predict", "method": "POST"}
    wait_until(lambda: server.metric("gateway_requests_total", **route) > 0, "/predict counted")
    for status in ("200", "500"):
        assert server.metric("gateway_requests_total", status=status, **route) == 0


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The access log and uvicorn's error log (where an unhandled exception's traceback goes)."""
    loggers = [logging.getLogger(name) for name in ("api.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="api.access")
    yield caplog
    for logger in loggers:
        logger.removeHandler(caplog.handler)


def assert_counted_as_client_closed(server: Server, log: pytest.LogCaptureFixture) -> None:
    route = {"route": "/predict", "method": "POST"}
    wait_until(
        lambda: server.metric("gateway_requests_total", status="499", **route) == 1,
        "a 499 in gateway_requests_total",
    )
    assert server.metric("gateway_requests_total", status="500", **route) == 0
    wait_until(lambda: admission_is_idle(server), "admission counters back to 0")
    assert server.uploads() == []
    lines = [json.loads(r.getMessage()) for r in log.records if r.name == "api.access"]
    assert [line["status"] for line in lines if line["route"] == "/predict"] == [499]
    assert not [r for r in log.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_client_that_closes_mid_upload_is_a_499_and_leaves_no_file(
    start: Callable[..., Server], server_log: pytest.LogCaptureFixture
) -> None:
    server = start()
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        # A Content-Length longer than what is sent, then the socket closes.
        sock.sendall(request_head("/predict", 10_000_000) + part_head() + b"\x00" * 3000)
        wait_until(lambda: len(server.uploads()) == 1, "the upload being received")
    assert_counted_as_client_closed(server, server_log)


def test_a_client_that_leaves_while_its_answer_is_computed_is_a_499(
    start: Callable[..., Server], server_log: pytest.LogCaptureFixture, long_clip: bytes
) -> None:
    server = start()
    body = multipart(long_clip)
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        sock.sendall(request_head("/predict?fps=10", len(body)) + body)
        wait_until(
            lambda: server.metric("gateway_predictions_processing") == 1, "the video being scored"
        )
    assert_counted_as_client_closed(server, server_log)
