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
from typing import Literal

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


StopReason = Literal["max_frames", "past_end", "decoder_ended"]

# OpenCV's grab() can fail on one frame and succeed on the next: on complete Ogg/Theora files it
# drops 1-27 of 100-300 frames that way, the first after as few as 12 frames. Only this many
# failures in a row end the stream; at the true end each retry returns at once.
MAX_GRAB_MISSES = 8
# Frame counts that containers only estimate (MPEG-PS: duration x rate) fall short of the
# frames decoded by up to 2.5% (measured on 39 clips): the walk goes this much past the
# declared count before it stops for want of a frame left to sample.
PAST_END_MARGIN = 0.1


@dataclass(frozen=True, slots=True)
class WalkEnd:
    """Why the walk through the stream stopped, and how far it got."""

    # max_frames: enough samples; past_end: the next sample would lie past the declared frame
    # count; decoder_ended: no further frame could be decoded.
    reason: StopReason
    frames_walked: int  # stream positions passed (decoded, or dropped by the decoder)
    last_t: float | None  # the last decoded frame's time (s); None when none was


class FrameSampler:
    """Yields one frame per `step` stream positions (the first decodable one at or after each
    multiple of `step`), at most `max_frames` of them, in stream order; once exhausted, `end`
    says why it stopped.

    With `declared_frames` (the container's frame count, 0 when unknown) the walk stops once the
    next sample lies past it, so a tiny rate (one sample per 10^9 frames) decodes one frame
    rather than the whole file.
    """

    def __init__(
        self, cap: cv2.VideoCapture, step: int, max_frames: int, declared_frames: int = 0
    ) -> None:
        self._cap = cap
        self._step = step
        self._max_frames = max_frames
        self._last_position = declared_frames * (1 + PAST_END_MARGIN) if declared_frames else 0
        self._index = 0  # the stream position of the next frame
        self._due = 0  # the position from which the next sample is taken
        self._sampled = 0
        self._misses = 0  # grab() failures in a row
        self._last_t: float | None = None
        self.end: WalkEnd | None = None

    def __iter__(self) -> FrameSampler:
        return self

    def __next__(self) -> Frame:
        while self.end is None:
            if self._sampled >= self._max_frames:
                self._stop("max_frames")
            elif 0 < self._last_position < self._due:
                self._stop("past_end")
            elif self._misses >= MAX_GRAB_MISSES:
                self._stop("decoder_ended")
            elif not self._cap.grab():
                self._misses += 1
            else:
                frame = self._grabbed()
                if frame is not None:
                    return frame
        raise StopIteration

    def _grabbed(self) -> Frame | None:
        """The frame just grabbed when it is due for sampling, else None."""
        self._index += self._misses  # the positions the decoder dropped
        self._misses = 0
        index = self._index
        self._index += 1
        t = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        self._last_t = t
        if index < self._due:
            return None
        ok, image = self._cap.retrieve()
        if not ok or image is None:
            self._index = index  # grabbed but not decodable: the stream ends before it
            self._stop("decoder_ended")
            return None
        self._sampled += 1
        self._due = (index // self._step + 1) * self._step
        return Frame(index=index, t=t, image=image)

    def _stop(self, reason: StopReason) -> None:
        self.end = WalkEnd(reason, self._index, self._last_t)


def sample_frames(
    cap: cv2.VideoCapture, step: int, max_frames: int, declared_frames: int = 0
) -> FrameSampler:
    """Every `step`-th frame, at most `max_frames` of them, in stream order (FrameSampler)."""
    return FrameSampler(cap, step, max_frames, declared_frames)
