"""Streaming multipart reception: limits while streaming, one temp file, always removed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from api.errors import EmptyUpload, InvalidRequest, MissingUpload, UploadTimeout, UploadTooLarge
from api.uploads import FRAMING_SLACK, receive_upload

pytestmark = pytest.mark.anyio
BOUNDARY = "xYzBoUnDaRy"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
INCOMPLETE = "ended before its closing boundary, so the upload is incomplete"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def part(name: str, data: bytes, filename: str | None = "clip.mp4") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: video/mp4\r\n\r\n"
    return head.encode() + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Stream:
    """An async body stream in fixed-size chunks that records how much was read."""

    def __init__(self, data: bytes, chunk: int = 1000) -> None:
        self.chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for c in self.chunks:
            self.read += len(c)
            yield c


async def receive(stream: Stream | Iterable[bytes], tmp: Path, **kw: object) -> tuple[bytes, Path]:
    options: dict[str, object] = {
        "content_type": CONTENT_TYPE,
        "content_length": None,
        "field": "file",
        "max_bytes": 1 << 20,
        "directory": tmp,
    }
    options.update(kw)
    async with receive_upload(stream, **options) as upload:  # type: ignore[arg-type]
        assert upload.path.parent == tmp
        return upload.path.read_bytes(), upload.path


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 1 << 20])
async def test_file_bytes_arrive_intact_whatever_the_chunking(tmp_path: Path, chunk: int) -> None:
    payload = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n"
    data, path = await receive(Stream(body(part("file", payload)), chunk), tmp_path)
    assert data == payload
    assert not path.exists()  # removed on exit
    assert list(tmp_path.iterdir()) == []


async def test_other_fields_are_ignored(tmp_path: Path) -> None:
    stream = Stream(body(part("note", b"x" * 5000, None), part("file", b"video"), part("z", b"1")))
    data, _ = await receive(stream, tmp_path)
    assert data == b"video"


async def test_flushes_large_files_in_pieces(tmp_path: Path) -> None:
    payload = b"v" * (3 << 20)
    data, _ = await receive(Stream(body(part("file", payload)), 65536), tmp_path, max_bytes=4 << 20)
    assert data == payload


@pytest.mark.parametrize(
    ("data", "kw", "error", "message"),
    [
        (body(part("video", b"x")), {}, MissingUpload, "No file in the form field 'file'"),
        (body(), {}, MissingUpload, "No file"),
        (body(part("file", b"")), {}, EmptyUpload, "empty"),
        (body(part("file", b"a"), part("file", b"b")), {}, InvalidRequest, "one file"),
        (b"no boundary here at all", {}, InvalidRequest, "malformed"),
        (
            body(part("file", b"x")),
            {"content_type": "application/json"},
            MissingUpload,
            "multipart",
        ),
        (body(part("file", b"x")), {"content_type": None}, MissingUpload, "curl -F file=@"),
        # python-multipart's constructor refuses it: a 422, not a plain 500.
        (
            body(part("file", b"x")),
            {"content_type": "multipart/form-data; boundary=" + "b" * 257},
            InvalidRequest,
            "Boundary length 257 exceeds maximum of 256",
        ),
        # Bodies that end before the closing delimiter: the file would be scored truncated.
        (part("file", b"video"), {}, InvalidRequest, INCOMPLETE),
        (part("file", b"video")[:-20], {}, InvalidRequest, INCOMPLETE),
        (body(part("file", b"video"))[:-3], {}, InvalidRequest, INCOMPLETE),
        (b"", {}, InvalidRequest, INCOMPLETE),
    ],
)
async def test_bad_bodies(
    tmp_path: Path, data: bytes, kw: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await receive(Stream(data), tmp_path, **kw)
    assert list(tmp_path.iterdir()) == []


async def test_too_large_is_refused_while_streaming(tmp_path: Path) -> None:
    limit = 100_000
    stream = Stream(body(part("file", b"x" * (limit * 20))), chunk=10_000)
    with pytest.raises(UploadTooLarge, match="limit of 100000 bytes") as caught:
        await receive(stream, tmp_path, max_bytes=limit)
    assert caught.value.status_code == 413
    # Stopped soon after crossing the limit, not after reading everything.
    assert stream.read <= limit + FRAMING_SLACK + 10_000
    assert list(tmp_path.iterdir()) == []


async def test_declared_length_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    stream = Stream(body(part("file", b"x" * 10)))
    with pytest.raises(UploadTooLarge):
        await receive(stream, tmp_path, max_bytes=10, content_length=10 * 2**20)
    assert stream.read == 0


async def test_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    data, _ = await receive(Stream(body(part("file", b"x" * 5000))), tmp_path, max_bytes=5000)
    assert len(data) == 5000


async def test_temp_file_removed_when_the_client_disconnects(tmp_path: Path) -> None:
    class DisconnectError(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        yield body(part("file", b"x" * 3000))[:2000]
        raise DisconnectError

    with pytest.raises(DisconnectError):
        await receive(broken(), tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


async def test_temp_file_removed_when_processing_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="downstream"):  # noqa: PT012
        async with receive_upload(
            Stream(body(part("file", b"video"))),
            content_type=CONTENT_TYPE,
            content_length=None,
            field="file",
            max_bytes=1000,
            directory=tmp_path,
        ) as upload:
            assert upload.path.exists()
            assert upload.filename == "clip.mp4"
            assert upload.content_type == "video/mp4"
            raise RuntimeError("downstream")
    assert list(tmp_path.iterdir()) == []


async def test_an_upload_that_stops_arriving_times_out(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield body(part("file", b"x" * 3000))[:2000]
        await never.wait()  # the client sends nothing more and keeps its socket
        yield b""

    with pytest.raises(UploadTimeout, match=r"for 0.05 s \(UPLOAD_IDLE_TIMEOUT\)") as caught:
        await receive(stalls(), tmp_path, idle_timeout=0.05)  # type: ignore[arg-type]
    assert (caught.value.status_code, caught.value.code) == (408, "upload_timeout")
    assert caught.value.headers == {"Connection": "close"}
    assert list(tmp_path.iterdir()) == []


async def test_a_slow_but_steady_upload_is_not_timed_out(tmp_path: Path) -> None:
    # The timer covers the wait for each piece, not the whole upload: 20 pieces, each well
    # within the limit, arrive after more than the limit in total.
    # The body ends right after its closing delimiter, without the optional line break.
    data = body(part("file", b"v" * 2000))[:-2]
    pieces = [data[i : i + 100] for i in range(0, len(data), 100)]

    async def steady() -> AsyncIterator[bytes]:
        for piece in pieces:
            await asyncio.sleep(0)  # yields to the loop without a wall-clock wait
            yield piece

    got, _ = await receive(steady(), tmp_path, idle_timeout=3600)  # type: ignore[arg-type]
    assert got == b"v" * 2000
