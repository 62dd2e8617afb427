from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from api.pipeline.sniff import MediaKind, sniff, sniff_file

MEDIA = Path(__file__).parents[1] / "fixtures" / "media"


def encoded(ext: str) -> bytes:
    ok, data = cv2.imencode(ext, np.zeros((8, 8, 3), np.uint8))
    assert ok
    return data.tobytes()


CASES = [
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", MediaKind.VIDEO, "MP4/QuickTime"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", MediaKind.VIDEO, "MP4/QuickTime"),
    (b"\x00\x00\x00\x1cftyp3gp5\x00\x00\x00\x00", MediaKind.VIDEO, "MP4/QuickTime"),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", MediaKind.VIDEO, "QuickTime"),
    (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00", MediaKind.AUDIO, "MP4 audio"),
    (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00", MediaKind.IMAGE, "HEIF/AVIF"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", MediaKind.VIDEO, "Matroska/WebM"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", MediaKind.VIDEO, "AVI"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", MediaKind.IMAGE, "WebP"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", MediaKind.AUDIO, "WAV"),
    (b"FLV\x01\x05", MediaKind.VIDEO, "FLV"),
    (b"\x47" + bytes(187) + b"\x47" + bytes(10), MediaKind.VIDEO, "MPEG transport stream"),
    (b"\x00\x00\x01\xba\x44", MediaKind.VIDEO, "MPEG program stream"),
    (b"OggS\x00\x02", MediaKind.VIDEO, "Ogg"),
    (encoded(".jpg"), MediaKind.IMAGE, "JPEG"),
    (encoded(".png"), MediaKind.IMAGE, "PNG"),
    (encoded(".bmp"), MediaKind.IMAGE, "BMP"),
    (b"GIF89a\x01\x00", MediaKind.IMAGE, "GIF"),
    (b"ID3\x04\x00", MediaKind.AUDIO, "MP3"),
    (b"\xff\xfb\x90\x64", MediaKind.AUDIO, "MPEG audio"),
    (b"%PDF-1.7\n%\xe2\xe3", MediaKind.DOCUMENT, "PDF"),
    (b"PK\x03\x04\x14\x00", MediaKind.DOCUMENT, "ZIP archive"),
    (b"#EXTM3U\n#EXT-X-VERSION:3\nfile:///etc/passwd\n", MediaKind.TEXT, "HLS playlist"),
    (b"ffconcat version 1.0\nfile '/etc/passwd'\n", MediaKind.TEXT, "text"),
    ("caf\u00e9 ol\u00e9 ".encode() * 40, MediaKind.TEXT, "text"),
    (bytes(range(256)), MediaKind.UNKNOWN, "unrecognised"),
    (b"", MediaKind.UNKNOWN, "unrecognised"),
]


@pytest.mark.parametrize(
    ("head", "kind", "name"), CASES, ids=[f"{kind}-{name}" for _, kind, name in CASES]
)
def test_sniff(head: bytes, kind: MediaKind, name: str) -> None:
    found = sniff(head[:512])
    assert (found.kind, found.format) == (kind, name)


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        ("clip.webm", MediaKind.VIDEO),
        ("vfr.mkv", MediaKind.VIDEO),
        ("rotated_270.mp4", MediaKind.VIDEO),
        ("audio_only.m4a", MediaKind.AUDIO),
    ],
)
def test_sniff_files(file: str, kind: MediaKind) -> None:
    assert sniff_file(MEDIA / file).kind is kind


def test_sniff_opencv_mp4(videos: dict[str, Path]) -> None:
    assert sniff_file(videos["faces"]).kind is MediaKind.VIDEO
