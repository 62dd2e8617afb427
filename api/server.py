"""The gateway's one entry point: `python -m api.server`, or the `deepfake-serve` command.

`make run`, the Docker image and docker-compose all start the gateway through `main()`, so the
HTTP server's flags are decided here, from `Settings`, and nowhere else:

- h11, not httptools: httptools has no cap on the request head (1 MB and 16 MB headers were
  accepted, +39 MB RSS for one), h11 refuses anything over MAX_HEADER_BYTES. What that costs
  in requests per second is measured by `python -m bench.parsers` (part of `make bench`).
- `GatewayH11Protocol` answers requests the parser refuses in the gateway's JSON error shape
  (`{"error", "code": "malformed_http"}`) instead of uvicorn's plain "Invalid HTTP request
  received.".
- no access log (the app logs its own line per request, api/middleware.py), and a graceful
  shutdown bounded at 10 s so that an open job event stream cannot hold a shutdown.

MALLOC_ARENA_MAX is not here: glibc reads it once, when the process starts, so it has to be in
the environment before Python runs (the Makefile, the Dockerfile and docker-compose set it).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Final

import h11
import orjson
import uvicorn
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from api.errors import MalformedHttp
from api.main import create_app
from settings import Settings

# An open job event stream keeps a connection busy until its job ends; after this many seconds
# uvicorn stops waiting for it and the lifespan cancels the jobs.
GRACEFUL_SHUTDOWN_SECONDS: Final = 10

# How long a refused request's connection keeps being read (and dropped) after the answer, so
# that the client can read the answer before the connection is closed.
LINGER_SECONDS: Final = 2.0

# h11 quotes the offending bytes in its messages ("illegal request line: b'...'"); the answer
# names the problem, not the client's bytes back.
_QUOTED_BYTES = re.compile(r":\s*(bytearray\()?b['\"].*\Z", re.DOTALL)


class RequestHeadTooLarge(MalformedHttp):
    """The request line plus headers are larger than MAX_HEADER_BYTES."""

    status_code = 431


class UriTooLong(MalformedHttp):
    """The request line alone (method, URL, version) is larger than MAX_HEADER_BYTES."""

    status_code = 414


class UnsupportedTransferEncoding(MalformedHttp):
    """A Transfer-Encoding other than one `chunked` (h11 suggests 501 Not Implemented)."""

    status_code = 501


class _Connection(h11.Connection):
    """h11's connection, which also remembers the error it refused a request with (uvicorn only
    passes a fixed message on to send_400_response) and enforces the head limit exactly.

    h11 checks `max_incomplete_event_size` only while a request head is still incomplete: a
    larger head that arrives whole in one read (up to uvicorn's read size, 64-256 KB) would be
    accepted. Measuring every parsed head makes the limit the same however TCP splits it.
    """

    def __init__(self, max_head_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        self.max_head_bytes = max_head_bytes
        self.refusal: MalformedHttp | None = None

    def next_event(self) -> Any:
        reading_head = self.their_state is h11.IDLE
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refusal = self._refusal(exc, reading_head)
            raise
        if isinstance(event, h11.Request):
            line = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n")
            head = line + sum(len(n) + len(v) + 4 for n, v in event.headers.raw_items()) + 2
            if head > self.max_head_bytes:
                self.refusal = self._too_large(line)
                raise h11.RemoteProtocolError(self.refusal.message, self.refusal.status_code)
        return event

    def _refusal(self, exc: h11.RemoteProtocolError, reading_head: bool) -> MalformedHttp:
        if exc.error_status_hint == 431 and reading_head:
            # Still incomplete: everything buffered is the head. Its first line is the request
            # line, unless no line has ended yet.
            buffered = self.trailing_data[0]
            end = buffered.find(b"\n")
            return self._too_large(len(buffered) if end < 0 else end + 1)
        reason = _QUOTED_BYTES.sub("", str(exc))[:200]
        if exc.error_status_hint == 431:
            # A chunk-size line or a trailer that never ended: the body's framing is broken.
            reason = f"a line of the chunked body is longer than {self.max_head_bytes} bytes"
        kind = UnsupportedTransferEncoding if exc.error_status_hint == 501 else MalformedHttp
        return kind(
            f"The request is not valid HTTP/1.1 ({reason}), so the server closed the "
            "connection: check the client or proxy that sent it."
        )

    def _too_large(self, request_line: int) -> MalformedHttp:
        limit = self.max_head_bytes
        if request_line > limit:
            return UriTooLong(
                f"The request line (method, URL and version) is longer than the server's limit "
                f"of {limit} bytes (MAX_HEADER_BYTES): shorten the URL; send data in the body."
            )
        return RequestHeadTooLarge(
            f"The request line and headers are larger than the server's limit of {limit} bytes "
            "(MAX_HEADER_BYTES): send fewer or shorter headers (cookies, tokens)."
        )


class GatewayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering the requests the parser refuses in the gateway's JSON
    error shape, with the status that fits (400, 414, 431 or 501) and `Connection: close`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        assert limit is not None, "run the gateway through api.server.config()"
        self.conn = _Connection(limit)
        self._lingering: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)
        # Else the request was refused: what the client still sends is read and dropped.

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        # A refused connection has nothing left to finish (and h11 may refuse to send on it).
        if self._lingering is not None:
            self.transport.close()
            return
        super().shutdown()

    def _should_upgrade(self) -> bool:
        # Never: the app has no WebSocket route. An Upgrade request is answered as plain HTTP
        # (e.g. 404 JSON), without uvicorn's warning per request that a client could spam.
        return False

    def send_400_response(self, msg: str) -> None:
        conn = self.conn
        assert isinstance(conn, _Connection)
        error = conn.refusal or MalformedHttp("The request is not valid HTTP/1.1.")
        conn.refusal = None
        if self.cycle is not None and not self.cycle.response_complete:
            # The error came in the body of a request the app is handling: from now on the app
            # sees a client that went away (its upload is dropped) and cannot answer too.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        # IDLE: the head could not be parsed; SEND_RESPONSE: it was, then refused (too large)
        # or its body was malformed. Any other state: the app has started its answer, and
        # only closing the connection can tell the client that the request failed.
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = orjson.dumps(error.body())
            status = error.status_code
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *self.server_state.default_headers,
            ]
            response = h11.Response(
                status_code=status, headers=headers, reason=STATUS_PHRASES[status]
            )
            self.transport.write(conn.send(response) + conn.send(h11.Data(data=body)))
            self.transport.write(conn.send(h11.EndOfMessage()))
        self._close_after_answer()

    def _close_after_answer(self) -> None:
        """Close without losing the answer. A client refused mid-send (a 1 MB header) still
        has bytes in flight: closing with unread data makes the kernel send a TCP reset, which
        can destroy the answer before the client reads it. So the answer is followed by a FIN,
        what the client still sends is read and dropped, and the connection is closed when the
        client closes it, or after LINGER_SECONDS."""
        self.flow.resume_reading()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def config(settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration for this gateway: the one place its server flags are set."""
    return uvicorn.Config(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        http=GatewayH11Protocol,
        h11_max_incomplete_event_size=settings.MAX_HEADER_BYTES,
        ws="none",  # the app serves no WebSocket (see GatewayH11Protocol._should_upgrade)
        access_log=False,  # the app logs one JSON line per request itself
        log_level=settings.LOG_LEVEL.lower(),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Nothing in the gateway reads the client's address or scheme (the access log has no
        # client field), so X-Forwarded-* is trusted from no one: no client can choose them.
        proxy_headers=False,
        server_header=False,  # no "server: uvicorn" advertised
    )


def main() -> None:
    uvicorn.Server(config(Settings())).run()


if __name__ == "__main__":
    main()
