"""A read-only file stream with a deadline, handed to c2pa-rs instead of the file itself.

c2pa-rs pulls every byte it reads through this object's readinto. Past the deadline readinto
raises, c2pa-python turns that into a read error (-1), and c2pa-rs gives up: the read is
bounded in time without a thread left running native code nobody waits for. What runs
between two reads is bounded too: c2pa-rs hashes in chunks of at most 256 MiB (measured),
and api.provenance.locate refuses manifests over MAX_MANIFEST_BYTES before c2pa sees them.
"""

from __future__ import annotations

import io
import time
from typing import BinaryIO


class DeadlineExceeded(OSError):
    pass


class DeadlineStream(io.RawIOBase):
    def __init__(self, raw: BinaryIO, deadline: float) -> None:
        super().__init__()
        self._raw = raw
        self._deadline = deadline  # time.monotonic() value
        self.timed_out = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if time.monotonic() > self._deadline:
            self.timed_out = True
            raise DeadlineExceeded("provenance read deadline exceeded")
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.bytes_read += n or 0
        return int(n or 0)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: object) -> int:
        raise OSError("read-only stream")

    def flush(self) -> None:
        pass
