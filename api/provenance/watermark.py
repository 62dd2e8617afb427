"""The Stable Diffusion reference watermark (invisible-watermark's "dwtDct"), decoded here.

The CompVis/Stability reference scripts mark every image they save with invisible-watermark:
`WatermarkEncoder().set_watermark('bytes', b'StableDiffusionV1')` (SD 1.x scripts/txt2img.py),
b'SDV2' (SD 2.x), and SDXL (generative-models, and diffusers' StableDiffusionXLWatermarker)
the 48 bits WATERMARK_MESSAGE 0b1011...0011110, all with `encode(bgr, 'dwtDct')`.

This is a re-implementation of invisible-watermark 0.2.0's EmbedMaxDct.decode (maxDct.py),
vectorised with numpy: the package itself cannot be imported here, because its __init__ imports
its RivaGAN model and with it torch (~2 GB), and it pins opencv-python, which conflicts with the
gateway's opencv-python-headless. The tests check this decoder bit for bit against the
package's own maxDct.py, and use the package's encoder to make marked images.

What dwtDct does: BGR -> YUV (OpenCV), the scales [0, 36, 36] of the package's defaults make it
mark only channel 1 (U, the loop runs over channels 0 and 1, and 0 has scale 0); a one-level
Haar DWT of that channel (cropped to a multiple of 4) gives the approximation band; each 4x4
block of it carries one bit, in turn (block n carries bit n % length) in its largest-magnitude
coefficient other than [0, 0]: the bit is 1 when |c| mod 36 > 18. The decoder averages each
bit's blocks and rounds.

Where it is looked for: lossless files only (PNG, BMP, lossless WebP). JPEG re-encoding erases
it, and so does resizing or cropping: its absence means nothing. A watermark is reported only
when the decoded bits equal one of the known payloads exactly, so unmarked images do not
produce near-misses that read as findings (the tests decode a few hundred unmarked images).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pywt

from api.errors import UnsupportedMedia
from api.pipeline.imageheader import read_header
from api.provenance.report import Watermark

SCALE = 36  # invisible-watermark's default scales[1] (U channel)
BLOCK = 4
MIN_PIXELS = 256 * 256  # the package refuses smaller images, so none is marked
MAX_PIXELS = 3072 * 3072  # decoding reads every pixel: ~0.08 s per megapixel (measured)


@dataclass(frozen=True, slots=True)
class Payload:
    kind: str
    name: str
    bits: tuple[bool, ...]


def _bytes_bits(content: bytes) -> tuple[bool, ...]:
    return tuple(bool(b) for b in np.unpackbits(np.frombuffer(content, dtype=np.uint8)))


_SDXL = 0b101100111110110010010000011110111011000110011110
PAYLOADS = (
    Payload("stable_diffusion", "StableDiffusionV1", _bytes_bits(b"StableDiffusionV1")),
    Payload("stable_diffusion", "SDV2", _bytes_bits(b"SDV2")),
    Payload("stable_diffusion_xl", bin(_SDXL)[2:], tuple(c == "1" for c in bin(_SDXL)[2:])),
)


def find_watermarks(path: Path) -> list[Watermark]:
    """Known payloads found in the lossless image at `path`; [] when none is, or when the
    image cannot carry one (too small, too large to decode here, unreadable)."""
    try:
        header = read_header(path)
    except (UnsupportedMedia, OSError):
        return []
    if not MIN_PIXELS <= header.pixels <= MAX_PIXELS:
        return []
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        return []
    return decode(bgr)


def decode(bgr: np.ndarray) -> list[Watermark]:
    """Known payloads in a BGR uint8 image, in either channel order: the reference scripts
    encode BGR, diffusers' SDXL watermarker hands the encoder RGB arrays."""
    found: list[Watermark] = []
    for image in (bgr, bgr[:, :, ::-1]):
        scores = block_scores(image)
        for payload in PAYLOADS:
            mark = Watermark(payload.kind, payload.name)
            if mark not in found and tuple(vote(scores, len(payload.bits))) == payload.bits:
                found.append(mark)
    return found


def block_scores(bgr: np.ndarray) -> np.ndarray:
    """One 0/1 score per 4x4 block of the U channel's Haar approximation, in the row-major
    order EmbedMaxDct.decode_frame visits them."""
    rows, cols = bgr.shape[:2]
    yuv = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2YUV)
    channel = yuv[: rows // 4 * 4, : cols // 4 * 4, 1]
    approx, _ = pywt.dwt2(channel, "haar")
    brows, bcols = approx.shape[0] // BLOCK, approx.shape[1] // BLOCK
    blocks = (
        approx[: brows * BLOCK, : bcols * BLOCK]
        .reshape(brows, BLOCK, bcols, BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(brows * bcols, BLOCK * BLOCK)
    )
    magnitudes = np.abs(blocks)
    # The largest |coefficient| after the first (argmax keeps the first of ties, as there).
    strongest = np.argmax(magnitudes[:, 1:], axis=1) + 1
    values = magnitudes[np.arange(len(blocks)), strongest]
    scores: np.ndarray = (np.mod(values, SCALE) > 0.5 * SCALE).astype(np.float64)
    return scores


def vote(scores: np.ndarray, length: int) -> list[bool]:
    """Each bit's average over its blocks (block n holds bit n % length), thresholded as the
    package does (mean * 255 > 127)."""
    if len(scores) < length:
        return [False] * length
    index = np.arange(len(scores)) % length
    means = np.bincount(index, weights=scores, minlength=length) / np.bincount(
        index, minlength=length
    )
    return [bool(m * 255 > 127) for m in means]
