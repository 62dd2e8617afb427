"""Where an embedded C2PA manifest store is, found by walking the container's structure.

Reading only segment, chunk and box headers (a few bytes each, with seeks in between) tells
whether a file has a manifest at all and how big it is, before c2pa-rs is handed the file: a
file without one then costs nothing more, and a hostile "manifest" of hundreds of megabytes is
refused instead of being read into memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# The ISO BMFF `uuid` box type of a C2PA manifest store (C2PA spec, "Embedding manifests into
# BMFF-based assets").
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# Headers walked at most per file. Real files have tens to a few thousand (a fragmented MP4's
# moof/mdat pairs, a PNG's IDAT chunks); a file built to have more is not walked to the end.
MAX_HEADERS = 100_000


@dataclass(frozen=True, slots=True)
class Located:
    """found: a manifest store is embedded; None when the walk could not tell (too many
    headers), which leaves the decision to c2pa. size: its bytes, summed over segments."""

    found: bool | None
    size: int = 0


NOT_FOUND = Located(False)
UNKNOWN = Located(None)


def locate(path: Path, format: str) -> Located:
    """Whether the file at `path` (of sniffed `format`) embeds a C2PA manifest store."""
    walker = _WALKERS.get(format)
    if walker is None:
        return UNKNOWN
    with path.open("rb") as f:
        try:
            return walker(f)
        except (struct.error, ValueError, OSError):
            # A structure that cannot be walked is no place c2pa would find a manifest either.
            return NOT_FOUND


def _jpeg(f: BinaryIO) -> Located:
    # Markers from SOI to the first SOS: C2PA stores JUMBF in APP11 segments ("JP" common
    # identifier, JPEG XT box format), split into as many 64 KB segments as needed.
    if f.read(2) != b"\xff\xd8":
        return NOT_FOUND
    total = 0
    found = False
    for _ in range(MAX_HEADERS):
        byte = f.read(1)
        if not byte:
            break
        if byte != b"\xff":
            return NOT_FOUND  # garbage between segments
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            break
        m = marker[0]
        if m == 0xD9 or m == 0xDA:  # EOI, SOS: metadata segments come before the scan
            break
        if 0xD0 <= m <= 0xD7 or m == 0x01:  # RSTn, TEM: no length
            continue
        (length,) = struct.unpack(">H", f.read(2))
        if length < 2:
            return NOT_FOUND
        if m == 0xEB:
            head = f.read(2)
            if head == b"JP":
                found = True
                total += length - 2
            f.seek(length - 4, 1)
        else:
            f.seek(length - 2, 1)
    else:
        return UNKNOWN
    return Located(True, total) if found else NOT_FOUND


def _png(f: BinaryIO) -> Located:
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        return NOT_FOUND
    for _ in range(MAX_HEADERS):
        header = f.read(8)
        if len(header) < 8:
            return NOT_FOUND
        length, kind = struct.unpack(">I4s", header)
        if kind == b"caBX":
            return Located(True, length)
        if kind == b"IEND":
            return NOT_FOUND
        f.seek(length + 4, 1)  # data and CRC
    return UNKNOWN


def _riff(f: BinaryIO) -> Located:
    header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF":
        return NOT_FOUND
    end = 8 + int.from_bytes(header[4:8], "little")
    pos = 12
    for _ in range(MAX_HEADERS):
        if pos + 8 > end:
            return NOT_FOUND
        f.seek(pos)
        chunk = f.read(8)
        if len(chunk) < 8:
            return NOT_FOUND
        size = int.from_bytes(chunk[4:8], "little")
        if chunk[:4] == b"C2PA":
            return Located(True, size)
        pos += 8 + size + (size & 1)
    return UNKNOWN


def _bmff(f: BinaryIO) -> Located:
    # Top-level boxes only: the manifest store is a top-level `uuid` box (after `ftyp`, before
    # or after `moov`/`mdat`).
    f.seek(0, 2)
    file_size = f.tell()
    pos = 0
    for _ in range(MAX_HEADERS):
        if pos + 8 > file_size:
            return NOT_FOUND
        f.seek(pos)
        header = f.read(8)
        size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if size == 1:
            (size,) = struct.unpack(">Q", f.read(8))
            header_size = 16
        elif size == 0:
            size = file_size - pos
        if size < header_size:
            return NOT_FOUND
        if kind == b"uuid" and f.read(16) == C2PA_UUID:
            return Located(True, size)
        pos += size
    return UNKNOWN


_WALKERS = {
    "JPEG": _jpeg,
    "PNG": _png,
    "WebP": _riff,
    "AVI": _riff,
    "MP4/QuickTime": _bmff,
    "QuickTime": _bmff,
    "HEIF/AVIF": _bmff,
}
