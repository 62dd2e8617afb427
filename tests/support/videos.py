"""Real video files for tests, written with OpenCV from a real face photo.

`skimage.data.astronaut()` (Eileen Collins, public domain) ships inside scikit-image; the Haar
cascade finds her face whenever the photo is drawn at least ~200 px tall.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import cv2
import numpy as np
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
