"""Open a video and sample frames at a target rate without seeking.

Seeking to each sampled frame costs 3-8x a linear pass on H.264 (DESIGN.md), so every frame is
grabbed (demuxed and decoded just enough to advance) and only sampled ones are retrieved
(converted to BGR). Timestamps are the decoder's own position, which stays right when the
container's frame rate is rounded or wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from api.errors import UnsupportedMedia


@dataclass(frozen=True, slots=True)
class VideoInfo:
    src_fps: float  # as declared by the container; 0.0 when it declares none
    total_frames: int  # as declared by the container; 0 when unknown
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Frame:
    index: int  # position in the stream, 0-based
    t: float  # presentation time in seconds, from the decoder
    image: np.ndarray  # BGR uint8 [H, W, 3]


# When the container declares no usable rate, step as if it were this (the common default).
FALLBACK_FPS = 25.0
# Declared rates above this are treated as missing: no camera or codec in use produces them,
# and trusting one would make the sampling step absurd.
MAX_PLAUSIBLE_FPS = 1000.0


@contextmanager
def open_video(path: Path) -> Iterator[cv2.VideoCapture]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise UnsupportedMedia(
                "The upload could not be opened as a video. Send a video file "
                "(for example MP4/H.264, WebM, MOV or AVI)."
            )
        yield cap
    finally:
        cap.release()


def probe(cap: cv2.VideoCapture) -> VideoInfo:
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return VideoInfo(
        src_fps=float(fps) if math.isfinite(fps) and 0 < fps <= MAX_PLAUSIBLE_FPS else 0.0,
        total_frames=int(frames) if math.isfinite(frames) and frames > 0 else 0,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )


def sampling_step(src_fps: float, target_fps: float) -> int:
    """Keep every n-th frame so that about `target_fps` frames per second remain."""
    if target_fps <= 0:
        raise ValueError("target_fps must be positive")
    rate = src_fps if src_fps > 0 else FALLBACK_FPS
    return max(1, round(rate / target_fps))


def sample_frames(cap: cv2.VideoCapture, step: int, max_frames: int) -> Iterator[Frame]:
    """Yield every `step`-th frame, at most `max_frames` of them, in stream order."""
    index = sampled = 0
    while sampled < max_frames and cap.grab():
        if index % step == 0:
            ok, image = cap.retrieve()
            if not ok or image is None:
                break
            yield Frame(index=index, t=cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, image=image)
            sampled += 1
        index += 1
