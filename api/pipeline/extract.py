"""Video file -> face crops with their timestamps: the CPU-bound half of a prediction.

Decoding and detection overlap: a reader thread grabs and retrieves sampled frames into a small
bounded queue while the calling thread finds and crops faces, so the decoder keeps moving
(OpenCV releases the GIL in both).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from api.contract import DEFAULT_CROP_SIZE
from api.errors import MediaTooLarge, UnsupportedMedia
from api.pipeline.decode import (
    Frame,
    FrameSampler,
    VideoInfo,
    WalkEnd,
    open_video,
    probe,
    sampling_step,
)
from api.pipeline.faces import Box, HaarFaceDetector, crop, expand
from api.pipeline.finder import FaceFinder
from api.pipeline.imageheader import read_header

# Decoded frames may wait for detection up to this many bytes (one frame whatever its size):
# enough that the decoder rarely waits for a slow search (the first frame's costs ~10 ordinary
# ones), bounded so large frames do not pile up: ~4 frames of 1080p, ~9 of 720p, 1 of 8K.
QUEUE_BYTES = 24 * 1024**2

# Called as (frames sampled so far, frames expected or None when the container does not say).
FrameProgress = Callable[[int, int | None], None]


class Stopped(Exception):
    """Raised in the pipeline's thread by a `stop_when` progress callback: the work is no
    longer wanted (a cancelled job, a client gone), so decoding stops at its next frame."""


def stop_when(stop: threading.Event, then: FrameProgress | None = None) -> FrameProgress:
    """A progress callback that raises Stopped once `stop` is set, else passes on to `then`."""

    def report(done: int, expected: int | None) -> None:
        if stop.is_set():
            raise Stopped
        if then is not None:
            then(done, expected)

    return report


MAX_FACES_PER_FRAME = 8  # the largest ones; bounds the cost of crowds


@dataclass(frozen=True, slots=True)
class FaceCrop:
    box: Box  # before the margin, source pixels
    crop: np.ndarray  # RGB uint8 [S, S, 3] (S: the model's crop size), the box grown by the margin


@dataclass(slots=True)
class SampledFrame:
    index: int  # position in the stream
    t: float  # seconds, from the decoder
    faces: list[FaceCrop]  # largest first; empty when no face was found


# Called with each sampled frame as soon as its faces are cropped (to start scoring them).
OnFrame = Callable[[SampledFrame], None]


@dataclass(slots=True)
class FaceSamples:
    """Every sampled frame of one video (or the one frame of an image) and its faces."""

    info: VideoInfo
    step: int
    media: str = "video"  # or "image"
    frames: list[SampledFrame] = field(default_factory=list)
    decode_seconds: float = 0.0  # the reader thread's time in grab()/retrieve()
    end: WalkEnd | None = None  # why decoding stopped; None for an image
    detect_seconds: float = 0.0  # face detection and cropping

    @property
    def sampled_frames(self) -> int:
        return len(self.frames)

    @property
    def with_faces(self) -> list[SampledFrame]:
        return [f for f in self.frames if f.faces]

    @property
    def face_frames(self) -> int:
        return len(self.with_faces)

    # The largest face of each frame that has one: what the original service scored.
    @property
    def times(self) -> list[float]:
        return [f.t for f in self.with_faces]

    @property
    def boxes(self) -> list[Box]:
        return [f.faces[0].box for f in self.with_faces]

    @property
    def crops(self) -> list[np.ndarray]:
        return [f.faces[0].crop for f in self.with_faces]


def expected_samples(info: VideoInfo, step: int, max_frames: int) -> int | None:
    if info.total_frames <= 0:
        return None
    return min(max_frames, math.ceil(info.total_frames / step))


def extract_faces(
    path: Path,
    *,
    target_fps: float,
    max_frames: int,
    detector: HaarFaceDetector,
    margin: float,
    max_pixels: int = 7680 * 4320,
    redetect_every: int = 4,
    crop_size: int = DEFAULT_CROP_SIZE,
    on_progress: FrameProgress | None = None,
    on_frame: OnFrame | None = None,
) -> FaceSamples:
    """Sample frames at `target_fps` (at most `max_frames`) and crop every face in each.

    Frames without a face are kept (and reported), never scored: scoring a centre crop as if it
    were a face (as the original service did) only adds noise to the verdict.
    """
    with open_video(path) as cap:
        info = probe(cap)
        check_pixels(info.width, info.height, max_pixels)
        samples = FaceSamples(info=info, step=sampling_step(info.src_fps, target_fps))
        expected = expected_samples(info, samples.step, max_frames)
        finder = FaceFinder(detector, redetect_every)
        frames = FrameSampler(cap, samples.step, max_frames, info.total_frames)
        with _Reader(frames) as reader:
            for frame in reader:
                started = time.perf_counter()
                # Declared sizes can lie; the decoded frame cannot. (OpenCV 4.14's FFmpeg backend
                # scales frames to the size probed at open: this guards other builds.)
                height, width = frame.image.shape[:2]
                check_decoded(width, height, (info.width, info.height), max_pixels)
                faces = finder.find_all(frame.image)
                sampled = _sampled(frame, faces, margin, crop_size)
                samples.frames.append(sampled)
                samples.detect_seconds += time.perf_counter() - started
                if on_frame is not None:
                    on_frame(sampled)
                if on_progress is not None:
                    on_progress(samples.sampled_frames, expected)
        samples.decode_seconds = reader.busy_seconds
        samples.end = frames.end
    return samples


def extract_image_faces(
    path: Path,
    *,
    detector: HaarFaceDetector,
    margin: float,
    max_pixels: int = 7680 * 4320,
    crop_size: int = DEFAULT_CROP_SIZE,
    on_frame: OnFrame | None = None,
) -> FaceSamples:
    """An image as a one-frame video: every face, searched at full detection size."""
    started = time.perf_counter()
    # The declared size is checked before decoding: a tiny file can declare gigabytes.
    header = read_header(path)
    check_pixels(header.width, header.height, max_pixels, "image")
    image = _decode_image(path)
    height, width = image.shape[:2]
    check_decoded(width, height, (header.width, header.height), max_pixels, "image")
    decoded = time.perf_counter()
    info = VideoInfo(src_fps=0.0, total_frames=1, width=width, height=height)
    samples = FaceSamples(info=info, step=1, media="image", decode_seconds=decoded - started)
    faces = detector.detect_all(image)
    samples.frames.append(_sampled(Frame(0, 0.0, image), faces, margin, crop_size))
    samples.detect_seconds = time.perf_counter() - decoded
    if on_frame is not None:
        on_frame(samples.frames[0])
    return samples


def _decode_image(path: Path) -> np.ndarray:
    # IMREAD_COLOR applies the EXIF orientation, as phones expect.
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UnsupportedMedia("The image could not be decoded: it is truncated or corrupt.")
    return image


def _sampled(frame: Frame, boxes: list[Box], margin: float, size: int) -> SampledFrame:
    height, width = frame.image.shape[:2]
    boxes = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)[:MAX_FACES_PER_FRAME]
    faces = [
        FaceCrop(box, crop(frame.image, expand(box, width, height, margin), size)) for box in boxes
    ]
    return SampledFrame(frame.index, round(frame.t, 6), faces)


class _Done:
    """End of the stream, with the reader's error if it failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _ByteQueue(queue.Queue[Frame | _Done]):
    """A queue bounded by the bytes of the frames in it rather than by their number: a put
    waits while `maxsize` bytes or more are queued."""

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self._bytes = 0

    def _qsize(self) -> int:
        return self._bytes  # > 0 whenever anything is queued: the end marker counts as 1

    def _put(self, item: Frame | _Done) -> None:
        super()._put(item)
        self._bytes += _weight(item)

    def _get(self) -> Frame | _Done:
        item: Frame | _Done = super()._get()
        self._bytes -= _weight(item)
        return item


def _weight(item: Frame | _Done) -> int:
    return item.image.nbytes if isinstance(item, Frame) else 1


class _Reader:
    """Decodes sampled frames on its own thread into a bounded queue."""

    def __init__(self, frames: FrameSampler) -> None:
        self._frames = frames
        self._queue = _ByteQueue(QUEUE_BYTES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decode", daemon=True)
        self.busy_seconds = 0.0

    def __enter__(self) -> _Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        # On an early exit (an error while detecting) the reader must not stay blocked on a
        # full queue: tell it to stop and drain until it has.
        self._stop.set()
        while self._thread.is_alive():
            with suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def __iter__(self) -> _Reader:
        return self

    def __next__(self) -> Frame:
        item = self._queue.get()
        if isinstance(item, _Done):
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def _run(self) -> None:
        done = _Done()
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                frame = next(self._frames, None)
                self.busy_seconds += time.perf_counter() - started
                if frame is None:
                    break
                self._put(frame)
        except BaseException as exc:  # handed to the consumer, raised there
            done = _Done(exc)
        self._put(done)

    def _put(self, item: Frame | _Done) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


Media = Literal["video", "image"]


def check_pixels(width: int, height: int, max_pixels: int, media: Media = "video") -> None:
    """Refuse a frame (or image) of more than `max_pixels`, whatever told us its size."""
    if width * height <= max_pixels:
        return
    per = " per frame" if media == "video" else ""
    raise MediaTooLarge(
        f"The {media} is {width}x{height} pixels{per}, more than this server's limit of "
        f"{max_pixels} (MAX_VIDEO_PIXELS). Downscale it (for example to 1920x1080) and retry.",
        details={"width": width, "height": height, "max_pixels": max_pixels},
    )


def check_decoded(
    width: int, height: int, declared: tuple[int, int], max_pixels: int, media: Media = "video"
) -> None:
    """Refuse decoded pixels beyond the limit or beyond what the file declared (0x0: unknown).

    Areas are compared, not sides: rotation (EXIF, a display matrix) swaps width and height."""
    check_pixels(width, height, max_pixels, media)
    declared_width, declared_height = declared
    if 0 < declared_width * declared_height < width * height:
        what = "A frame of the video" if media == "video" else "The image"
        raise MediaTooLarge(
            f"{what} decoded to {width}x{height} pixels, more than the "
            f"{declared_width}x{declared_height} its header declares: the file is corrupt or "
            "crafted.",
            details={
                "width": width,
                "height": height,
                "declared_width": declared_width,
                "declared_height": declared_height,
                "max_pixels": max_pixels,
            },
        )
