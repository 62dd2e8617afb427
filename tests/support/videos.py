"""Real video files for tests, written with OpenCV from a real face photo.

`skimage.data.astronaut()` (Eileen Collins, public domain) ships inside scikit-image; the Haar
cascade finds her face whenever the photo is drawn at least ~200 px tall.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

BACKGROUND = 90


@cache
def astronaut_bgr() -> np.ndarray:
    image: np.ndarray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    image.setflags(write=False)
    return image


def blank_frame(width: int = 640, height: int = 360, value: int = BACKGROUND) -> np.ndarray:
    """A frame with no face: a smooth gradient, so the encoder has something to encode."""
    ramp = np.linspace(value - 40, value + 40, width, dtype=np.float32)
    return np.repeat(np.repeat(ramp[None, :, None], height, axis=0), 3, axis=2).astype(np.uint8)


# Where OpenCV's cascade finds the astronaut's face in the 512x512 photo.
FACE_IN_PHOTO = (177, 66, 95, 95)


def photo_placement(i: int, n: int, width: int, height: int) -> tuple[int, int, int]:
    """(x, y, side) of the photo in frame i of n."""
    progress = i / max(1, n - 1)
    side = min(round(height * (0.72 + 0.2 * progress)), height - 10)
    x = round(10 + (width - side - 20) * progress)
    return x, (height - side) // 2, side


def true_face(i: int, n: int, width: int = 640, height: int = 360) -> tuple[int, int, int, int]:
    """The face's box in frame i of n of a make_video clip, from how the frame was drawn."""
    x, y, side = photo_placement(i, n, width, height)
    s = side / 512
    fx, fy, fw, fh = FACE_IN_PHOTO
    return round(x + fx * s), round(y + fy * s), round(fw * s), round(fh * s)


def face_frame(i: int, n: int, width: int = 640, height: int = 360) -> np.ndarray:
    """Frame i of n: the astronaut photo sliding right and growing from 72% to 92% of the
    frame height, so every crop differs and the face is found at any resolution."""
    frame = blank_frame(width, height)
    x, y, side = photo_placement(i, n, width, height)
    frame[y : y + side, x : x + side] = cv2.resize(
        astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA
    )
    return frame


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float, fourcc: str = "mp4v") -> Path:
    writer: cv2.VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(
                    str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (width, height)
                )
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return path


def make_video(
    path: Path,
    *,
    seconds: float,
    fps: float,
    has_face: Callable[[int], bool] = lambda i: True,
    width: int = 640,
    height: int = 360,
) -> Path:
    """A clip of `seconds` at `fps` whose frame i shows a face when has_face(i)."""
    n = round(seconds * fps)
    return write_video(
        path,
        (
            face_frame(i, n, width, height) if has_face(i) else blank_frame(width, height)
            for i in range(n)
        ),
        fps,
    )


def two_faces_frame(i: int, n: int, width: int = 960, height: int = 360) -> np.ndarray:
    """Two people: the photo on the left drifting right, a red-tinted copy on the right
    drifting left, so the two faces move, never meet, and score differently."""
    frame = blank_frame(width, height)
    side = round(height * 0.8)
    drift = round(40 * i / max(1, n - 1))
    y = (height - side) // 2
    left = cv2.resize(astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA)
    right = left.copy()
    right[..., 2] = np.clip(right[..., 2].astype(np.int16) + 60, 0, 255).astype(np.uint8)
    frame[y : y + side, 20 + drift : 20 + drift + side] = left
    x = width - side - 20 - drift
    frame[y : y + side, x : x + side] = right
    return frame


def make_two_faces_video(path: Path, *, seconds: float, fps: float) -> Path:
    n = round(seconds * fps)
    return write_video(path, (two_faces_frame(i, n) for i in range(n)), fps)


def make_avi(path: Path, *, seconds: float, fps: float) -> Path:
    """A make_video clip as Motion JPEG in AVI: the index comes last and every frame is a
    key frame, so a file cut short still opens and decodes up to the cut."""
    n = round(seconds * fps)
    return write_video(path, (face_frame(i, n) for i in range(n)), fps, fourcc="MJPG")


def cut(path: Path, keep: float, into: Path) -> Path:
    """The first `keep` share of the file's bytes, as an interrupted upload leaves it."""
    data = path.read_bytes()
    into.write_bytes(data[: round(len(data) * keep)])
    return into


# --- Decompression bombs: real small images whose header declares a huge size. -------------
def encoded(ext: str, params: list[int] | None = None, side: int = 16) -> bytes:
    ok, data = cv2.imencode(ext, cv2.resize(astronaut_bgr(), (side, side)), params or [])
    if not ok:
        raise RuntimeError(f"OpenCV cannot encode {ext}")
    return data.tobytes()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A baseline JPEG whose SOF0 segment (FF C0, length, precision, height, width) is patched."""
    data = bytearray(encoded(".jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose IHDR (the first chunk, at byte 8) is patched, its CRC recomputed."""
    data = bytearray(encoded(".png"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    """A BMP whose BITMAPINFOHEADER biWidth and biHeight (bytes 18-26) are patched."""
    data = bytearray(encoded(".bmp"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def webp_declaring(width: int, height: int, chunk: str) -> bytes:
    """A WebP whose first chunk declares the size: "VP8 " (lossy, 14-bit sides at byte 26),
    "VP8L" (lossless, two 14-bit sides - 1 packed at byte 21) or "VP8X" (extended, 24-bit
    canvas sides - 1 at byte 24; Pillow writes it when there is EXIF)."""
    if chunk == "VP8X":
        out = io.BytesIO()
        rgb = cv2.cvtColor(cv2.resize(astronaut_bgr(), (16, 16)), cv2.COLOR_BGR2RGB)
        Image.fromarray(rgb).save(out, "WEBP", exif=Image.Exif().tobytes())
        data = bytearray(out.getvalue())
        data[24:30] = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    elif chunk == "VP8L":
        data = bytearray(encoded(".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]))
        bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
        data[21:25] = (bits | (width - 1) | (height - 1) << 14).to_bytes(4, "little")
    else:
        data = bytearray(encoded(".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]))
        data[26:30] = struct.pack("<HH", width, height)
    if data[12:16] != chunk.encode():
        raise RuntimeError(f"expected a {chunk} chunk, the encoder wrote {bytes(data[12:16])!r}")
    return bytes(data)
