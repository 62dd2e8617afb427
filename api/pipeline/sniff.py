"""What an upload is, from its first bytes; never from its name or declared Content-Type.

Only containers on an allow-list reach the decoder. FFmpeg opens far more than video files:
an HLS playlist or a concat script uploaded as "clip.mp4" would make it read local files or
URLs, so anything that is not a recognised video container is refused before decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

HEAD_BYTES = 512


class MediaKind(StrEnum):
    VIDEO = "video"
    IMAGE = "image"
    AUDIO = "audio"
    DOCUMENT = "document"
    TEXT = "text"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: MediaKind
    format: str  # a short human name: "MP4/QuickTime", "PNG", "PDF", ...


# ISO base media file brands that carry no picture, or a still picture.
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
# QuickTime files written before `ftyp` existed start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

_PREFIXES: list[tuple[bytes, MediaKind, str]] = [
    (b"\x1a\x45\xdf\xa3", MediaKind.VIDEO, "Matroska/WebM"),
    (b"FLV\x01", MediaKind.VIDEO, "FLV"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", MediaKind.VIDEO, "ASF/WMV"),
    (b"\x00\x00\x01\xba", MediaKind.VIDEO, "MPEG program stream"),
    (b"\x00\x00\x01\xb3", MediaKind.VIDEO, "MPEG video"),
    (b"OggS", MediaKind.VIDEO, "Ogg"),  # may hold only audio: the decoder then finds no frame
    (b"\xff\xd8\xff", MediaKind.IMAGE, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", MediaKind.IMAGE, "PNG"),
    (b"GIF87a", MediaKind.IMAGE, "GIF"),
    (b"GIF89a", MediaKind.IMAGE, "GIF"),
    (b"BM", MediaKind.IMAGE, "BMP"),
    (b"II*\x00", MediaKind.IMAGE, "TIFF"),
    (b"MM\x00*", MediaKind.IMAGE, "TIFF"),
    (b"ID3", MediaKind.AUDIO, "MP3"),
    (b"fLaC", MediaKind.AUDIO, "FLAC"),
    (b"%PDF", MediaKind.DOCUMENT, "PDF"),
    (b"PK\x03\x04", MediaKind.DOCUMENT, "ZIP archive"),
    (b"#EXTM3U", MediaKind.TEXT, "HLS playlist"),
]


def sniff(head: bytes) -> Sniffed:
    """Classify a file from its first bytes (HEAD_BYTES is enough)."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head[8:12])
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return Sniffed(MediaKind.VIDEO, "QuickTime")
    if len(head) >= 12 and head[:4] == b"RIFF":
        return _sniff_riff(head[8:12])
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return Sniffed(MediaKind.VIDEO, "MPEG transport stream")
    for prefix, kind, name in _PREFIXES:
        if head.startswith(prefix):
            return Sniffed(kind, name)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return Sniffed(MediaKind.AUDIO, "MPEG audio")
    if _looks_like_text(head):
        return Sniffed(MediaKind.TEXT, "text")
    return Sniffed(MediaKind.UNKNOWN, "unrecognised")


def sniff_file(path: Path) -> Sniffed:
    with path.open("rb") as f:
        return sniff(f.read(HEAD_BYTES))


def _sniff_iso_bmff(brand: bytes) -> Sniffed:
    if brand in _AUDIO_BRANDS:
        return Sniffed(MediaKind.AUDIO, "MP4 audio")
    if brand in _IMAGE_BRANDS:
        return Sniffed(MediaKind.IMAGE, "HEIF/AVIF")
    return Sniffed(MediaKind.VIDEO, "MP4/QuickTime")


def _sniff_riff(form: bytes) -> Sniffed:
    if form == b"AVI ":
        return Sniffed(MediaKind.VIDEO, "AVI")
    if form == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "WebP")
    if form == b"WAVE":
        return Sniffed(MediaKind.AUDIO, "WAV")
    return Sniffed(MediaKind.UNKNOWN, "RIFF")


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the head.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(c.isprintable() or c in "\r\n\t" for c in text)
    return printable >= 0.95 * len(text)
