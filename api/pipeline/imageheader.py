"""The size an image declares in its header, read before a single pixel is decoded.

A 1 KB JPEG can declare 30000x30000 pixels: cv2.imread would allocate and fill ~2.7 GB (5 GB
peak) for 5-10 s before the size could be checked. Reading the header first lets the pixel limit
refuse such a file for the cost of parsing a few hundred bytes.

JPEG, PNG, BMP and TIFF headers are parsed by Pillow's format plugins, constructed directly: that
parses exactly what `PIL.Image.open` parses but skips its decompression-bomb check, which would
raise (`DecompressionBombError`, above 2x `Image.MAX_IMAGE_PIXELS`) without saying the size, or
warn, through the process-wide warnings filters, below that. Our limit (MAX_VIDEO_PIXELS) is then
the only one, and no Pillow or warnings state is touched. WebP is parsed here: Pillow's WebP
plugin reads the whole file and has libwebp allocate the full canvas as it opens it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import ImageFile
from PIL.BmpImagePlugin import BmpImageFile
from PIL.JpegImagePlugin import JpegImageFile
from PIL.PngImagePlugin import PngImageFile
from PIL.TiffImagePlugin import TiffImageFile

from api.errors import UnsupportedMedia
from api.pipeline.sniff import HEAD_BYTES, sniff

_PLUGINS: dict[str, type[ImageFile.ImageFile]] = {
    "JPEG": JpegImageFile,
    "PNG": PngImageFile,
    "BMP": BmpImageFile,
    "TIFF": TiffImageFile,  # not served (service.IMAGE_FORMATS), but training reads it
}
# Errors Pillow's parsers raise on a header they cannot make sense of (ImageFile wraps the
# low-level ones, struct.error and the like, in SyntaxError).
_PARSE_ERRORS = (SyntaxError, OSError, ValueError, EOFError, struct.error)


@dataclass(frozen=True, slots=True)
class ImageHeader:
    format: str  # as api.pipeline.sniff names it: "JPEG", "PNG", "WebP", "BMP", "TIFF"
    width: int  # as stored, before any EXIF rotation
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(path: Path) -> ImageHeader:
    """The format and stored size of the image at `path`; UnsupportedMedia when the header is
    not one of a format read here, or cannot be parsed."""
    with path.open("rb") as fp:
        head = fp.read(HEAD_BYTES)
        fmt = sniff(head).format
        if fmt == "WebP":
            width, height = _webp_size(head)
        elif fmt in _PLUGINS:
            fp.seek(0)
            width, height = _pillow_size(fp, fmt)
        else:
            raise UnsupportedMedia(f"The upload is not an image this service reads ({fmt}).")
    return ImageHeader(fmt, width, height)


def _pillow_size(fp: BinaryIO, fmt: str) -> tuple[int, int]:
    try:
        # Only the header is parsed here; the pixels would be read on load(), never called.
        with _PLUGINS[fmt](fp) as image:
            width, height = image.size
    except _PARSE_ERRORS as exc:
        raise _unreadable(fmt, str(exc)) from exc
    return width, height


def _webp_size(head: bytes) -> tuple[int, int]:
    """The canvas size from the first chunk of a RIFF/WEBP file (the WebP container spec):
    VP8X carries the canvas size, VP8 (lossy) and VP8L (lossless) the frame's."""
    if len(head) < 30:
        raise _unreadable("WebP", "the file ends inside its header")
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(head[24:27], "little")
        height = 1 + int.from_bytes(head[27:30], "little")
    elif chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", head, 26))
    elif chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    else:
        raise _unreadable("WebP", f"unknown first chunk {chunk!r}")
    if width == 0 or height == 0:
        raise _unreadable("WebP", "a zero width or height")
    return width, height


def _unreadable(fmt: str, why: str) -> UnsupportedMedia:
    # Worded as the decoder's own refusal: to a client, both are a file that will not decode.
    return UnsupportedMedia(
        f"The image could not be decoded: its {fmt} header is truncated or corrupt ({why}).",
        details={"format": fmt},
    )
