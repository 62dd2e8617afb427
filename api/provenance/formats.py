"""Which sniffed formats (api.pipeline.sniff names) each provenance check reads."""

from __future__ import annotations

from pathlib import Path

# What c2pa-python is told the file is. Only formats whose container api.provenance.locate can
# walk are listed, so every c2pa read is preceded by a cheap check that a manifest is there and
# of a sane size. c2pa also reads TIFF, GIF, MP3, PDF..., which the gateway does not accept.
C2PA_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WebP": "image/webp",
    "AVI": "video/avi",
    # MP4 and QuickTime share a sniffed name; c2pa settles which from the bytes.
    "MP4/QuickTime": "video/mp4",
    "QuickTime": "video/quicktime",
    "HEIF/AVIF": "image/heif",
}

# c2pa-rs reads these whole into memory before it looks for the manifest (measured: a 28 MB
# JPEG is read twice, +60 MB RSS); PNG and ISO BMFF are read box by box.
WHOLE_FILE_FORMATS = frozenset({"JPEG", "WebP", "AVI"})


def is_lossless_image(path: Path, format: str) -> bool:
    """Formats where an invisible watermark in the pixels survives as written. WebP only when
    its bitstream is VP8L (lossless); JPEG never (re-encoding erases the DWT-DCT watermark)."""
    if format in ("PNG", "BMP"):
        return True
    if format != "WebP":
        return False
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError:
        return False
    # RIFF....WEBP then the first chunk: VP8L is lossless, VP8 lossy; VP8X (extended) is
    # followed by optional ICCP/ANIM/ALPH chunks, then the image chunk.
    pos = 12
    while pos + 8 <= len(head):
        fourcc = head[pos : pos + 4]
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        size = int.from_bytes(head[pos + 4 : pos + 8], "little")
        pos += 8 + size + (size & 1)
    return False
