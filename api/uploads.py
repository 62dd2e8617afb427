"""Receive the multipart upload straight into a temp file, enforcing the size limit as it streams.

Starlette's form parsing reads the whole body (spooling it to disk) before a handler runs, so a
limit could only be checked afterwards and the data would be copied twice. This reader parses the
stream itself: the `file` part goes to one temp file in 1 MiB writes off the event loop, anything
else is discarded, the request is refused with 413 the moment it crosses the limit, with 408 when
nothing arrives for `idle_timeout` seconds, with 422 when the body is not complete multipart (up
to its closing boundary), and the temp file is removed however the request ends (success, error,
disconnect, cancellation).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartState, parse_options_header

from api.errors import EmptyUpload, InvalidRequest, MissingUpload, UploadTimeout, UploadTooLarge

FLUSH_BYTES = 1 << 20
# Room for multipart framing and small form fields on top of the file itself.
FRAMING_SLACK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    path: Path
    filename: str | None
    content_type: str | None  # as the client declared it: a hint, never trusted
    size: int


class _FieldCollector:
    """python-multipart callbacks that keep the bytes of one named file field."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.found = 0
        self.filename: str | None = None
        self.content_type: str | None = None
        self._headers: dict[bytes, bytes] = {}
        self._name = self._value = b""
        self._active = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def take(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        return data

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._name.strip().lower()] = self._value.strip()
        self._name = self._value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._active = name == self.field
        if not self._active:
            return
        self.found += 1
        if self.found > 1:
            raise InvalidRequest(f"Send one file per request: the field '{self.field}' came twice.")
        raw_filename = options.get(b"filename")
        self.filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
        declared = self._headers.get(b"content-type")
        self.content_type = declared.decode("latin-1") if declared else None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._active:
            self.pending.append(data[start:end])
            self.pending_bytes += end - start

    def _on_part_end(self) -> None:
        self._active = False


def _boundary(content_type: str | None, field: str) -> bytes:
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise MissingUpload(
            f"Send the video as multipart/form-data in a field named '{field}', "
            f"for example: curl -F {field}=@clip.mp4 http://HOST/predict"
        )
    return params[b"boundary"]


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than the limit of {limit} bytes ({limit / 2**20:.0f} MiB). "
        "Trim or re-encode the video, or raise MAX_UPLOAD_BYTES.",
        details={"limit_bytes": limit},
    )


@contextmanager
def _parser_errors() -> Iterator[None]:
    """Around every call into python-multipart (constructor, write, finalize): any of its errors
    is the client's malformed body, answered 422 in the JSON shape rather than a plain 500."""
    try:
        yield
    except FormParserError as exc:
        raise InvalidRequest(f"The multipart body is malformed: {exc}") from exc


def _incomplete(boundary: bytes) -> InvalidRequest:
    closing = "--" + boundary.decode("latin-1") + "--"
    return InvalidRequest(
        "The multipart body is malformed: it ended before its closing boundary, so the upload "
        f"is incomplete (cut off, or a Content-Length shorter than the body; the body must end "
        f"with '{closing}'). Send the whole file again."
    )


def _timed_out(idle_timeout: float) -> UploadTimeout:
    # Connection: close, because the rest of the body may still come: read as the start of the
    # next request on a kept-alive connection, it would be garbage.
    return UploadTimeout(
        f"Nothing of the upload arrived for {idle_timeout:g} s (UPLOAD_IDLE_TIMEOUT), so it was "
        "dropped. Send the file again over a steadier connection.",
        headers={"Connection": "close"},
    )


async def _next_chunk(chunks: AsyncIterator[bytes], idle_timeout: float | None) -> bytes | None:
    """The next piece of the body, None at its end; UploadTimeout when none comes in time."""
    try:
        # The timer covers only the wait for the client, not parsing or disk writes.
        async with asyncio.timeout(idle_timeout):
            return await anext(chunks)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        assert idle_timeout is not None
        raise _timed_out(idle_timeout) from None


@asynccontextmanager
async def receive_upload(
    stream: AsyncIterable[bytes],
    *,
    content_type: str | None,
    content_length: int | None,
    field: str,
    max_bytes: int,
    directory: Path | None = None,
    idle_timeout: float | None = None,
) -> AsyncIterator[Upload]:
    """Stream the `field` part of a multipart body to a temp file; remove it on exit.

    `idle_timeout`: seconds the body may send nothing before UploadTimeout (None: no limit)."""
    boundary = _boundary(content_type, field)
    if content_length is not None and content_length > max_bytes + FRAMING_SLACK:
        raise _too_large(max_bytes)  # refuse before reading a byte
    collector = _FieldCollector(field)
    with _parser_errors():  # the constructor validates the boundary (at most 256 characters)
        parser = python_multipart.MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    chunks = aiter(stream)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".bin", dir=directory)
    path, size, received = Path(name), 0, 0
    try:
        with os.fdopen(fd, "wb") as out:
            while (chunk := await _next_chunk(chunks, idle_timeout)) is not None:
                received += len(chunk)
                if received > max_bytes + FRAMING_SLACK:
                    raise _too_large(max_bytes)
                with _parser_errors():
                    parser.write(chunk)
                if collector.pending_bytes >= FLUSH_BYTES:
                    size += await _flush(out, collector, size, max_bytes)
            size += await _flush(out, collector, size, max_bytes)
            with _parser_errors():
                parser.finalize()
        # The parser reaches END only past the closing delimiter: a body cut short (a client
        # that stopped, or a Content-Length shorter than the body, where the server stops
        # reading) would otherwise be scored as a truncated file.
        if parser.state is not MultipartState.END:
            raise _incomplete(boundary)
        if not collector.found:
            raise MissingUpload(
                f"No file in the form field '{field}'. Send the video as multipart/form-data, "
                f"for example: curl -F {field}=@clip.mp4 http://HOST/predict"
            )
        if size == 0:
            raise EmptyUpload("The uploaded file is empty (0 bytes).")
        yield Upload(path, collector.filename, collector.content_type, size)
    finally:
        # Synchronous on purpose: an awaited unlink could itself be cancelled and leak the file.
        with suppress(FileNotFoundError):
            path.unlink()  # noqa: ASYNC240


async def _flush(out: BinaryIO, collector: _FieldCollector, written: int, max_bytes: int) -> int:
    data = collector.take()
    if written + len(data) > max_bytes:
        raise _too_large(max_bytes)
    if data:
        await asyncio.to_thread(out.write, data)
    return len(data)
