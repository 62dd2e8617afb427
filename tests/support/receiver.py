"""A callback receiver on a free loopback port, in a thread: records what it gets, answers as told.

    with receiver() as hook:
        hook.answer_with(500, 200)  # then 200 for every later request
        ...  # POST to hook.url
        last = hook.wait_for(2)[-1]  # last.body (raw bytes), last.headers, last.path

Answers are queued: an `int` status, or an `Answer` for headers, a body, or misbehaviour
(`hold`: no answer until `release()` or the end of the `with`, so a client's timeout fires
however slow the machine is; `stream_forever`: a body that never ends).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

# A held request waits at most this long, so a test that forgets to release cannot hang a run.
HOLD_LIMIT = 60.0


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    hold: bool = False  # answer nothing until released; then close the connection
    stream_forever: bool = False  # the status, then body bytes until released or disconnected


HOLD = Answer(hold=True)


class Received(NamedTuple):
    body: bytes
    headers: dict[str, str]  # names as sent; callbacks.verify matches them case-insensitively
    path: str
    method: str


class Receiver:
    def __init__(self, server: _Server, path: str) -> None:
        self._server = server
        self.path = path
        self.requests: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._changed = threading.Condition()
        self._released = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def answer_with(self, *answers: int | Answer) -> None:
        """Queue answers for the next requests, in order; once they are used up, 200."""
        with self._changed:
            self._answers.extend(a if isinstance(a, Answer) else Answer(status=a) for a in answers)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The requests once at least `count` have arrived (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} requests arrived, not {count}")
                self._changed.wait(left)
            return list(self.requests)

    def release(self) -> None:
        """Let held requests end; later held answers wait for the next release."""
        with self._changed:
            released, self._released = self._released, threading.Event()
        released.set()

    def _record(self, request: Received) -> tuple[Answer, threading.Event]:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            answer = self._answers.popleft() if self._answers else Answer()
            return answer, self._released


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = HOLD_LIMIT  # socket timeout: a stalled client cannot pin a thread for ever

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded requests instead."""

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = Received(body, dict(self.headers.items()), self.path, self.command)
        answer, released = self.server.receiver._record(received)
        if answer.hold:
            released.wait(HOLD_LIMIT)
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.stream_forever:
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 1024
            while not released.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))  # until the client goes
            self.close_connection = True
            return
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that gave up (timeout, a body read only in part) breaks the pipe."""


@contextmanager
def receiver(path: str = "/hook") -> Iterator[Receiver]:
    """A started receiver; held requests are released and the server stopped on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    hook = Receiver(server, path)
    server.receiver = hook
    thread = threading.Thread(target=server.serve_forever, name="callback-receiver", daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        hook.release()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
