"""Video file -> face crops with their timestamps: the CPU-bound half of a prediction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from api.errors import UnsupportedMedia
from api.pipeline.decode import VideoInfo, open_video, probe, sample_frames, sampling_step
from api.pipeline.faces import CROP_SIZE, Box, HaarFaceDetector, crop, expand, largest


@dataclass(slots=True)
class FaceSamples:
    """The crops scored for one video, with what is needed to report on them."""

    info: VideoInfo
    step: int
    sampled_frames: int = 0
    times: list[float] = field(default_factory=list)  # of the frames with a face
    boxes: list[Box] = field(default_factory=list)  # before the margin, source pixels
    crops: list[np.ndarray] = field(default_factory=list)  # RGB uint8 [64, 64, 3]
    decode_seconds: float = 0.0  # opening, grabbing and retrieving frames
    detect_seconds: float = 0.0  # face detection and cropping

    @property
    def face_frames(self) -> int:
        return len(self.crops)


def extract_faces(
    path: Path,
    *,
    target_fps: float,
    max_frames: int,
    detector: HaarFaceDetector,
    margin: float,
    max_pixels: int = 7680 * 4320,
    crop_size: int = CROP_SIZE,
) -> FaceSamples:
    """Sample frames at `target_fps` (at most `max_frames`) and crop the largest face in each.

    Frames without a face are counted, never scored: scoring a centre crop as if it were a
    face (as the original service did) only adds noise to the verdict.
    """
    clock = time.perf_counter()
    with open_video(path) as cap:
        info = probe(cap)
        _check_pixels(info.width, info.height, max_pixels)
        samples = FaceSamples(info=info, step=sampling_step(info.src_fps, target_fps))
        for frame in sample_frames(cap, samples.step, max_frames):
            detecting = time.perf_counter()
            samples.decode_seconds += detecting - clock
            # Declared sizes can lie; the decoded frame cannot.
            _check_pixels(frame.image.shape[1], frame.image.shape[0], max_pixels)
            samples.sampled_frames += 1
            box = largest(detector.detect(frame.image))
            if box is not None:
                height, width = frame.image.shape[:2]
                samples.times.append(round(frame.t, 6))
                samples.boxes.append(box)
                samples.crops.append(
                    crop(frame.image, expand(box, width, height, margin), crop_size)
                )
            clock = time.perf_counter()
            samples.detect_seconds += clock - detecting
    samples.decode_seconds += time.perf_counter() - clock
    return samples


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise UnsupportedMedia(
            f"The video is {width}x{height} pixels per frame, more than this server's limit of "
            f"{max_pixels} (MAX_VIDEO_PIXELS). Downscale it (for example to 1920x1080) and retry.",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )
