"""Images and videos -> RGB face crops of the contract's size, through the gateway's own code.

Training, evaluation and serving must see identical crops, so videos go through
`api.pipeline.extract.extract_faces` and still images through `extract_image_faces` (same
sampling, same Haar search and face following, same margin, same resize); the largest face of
each frame is kept, the face the original service scored.

Haar's largest face is sometimes not a face at all (a wall, a floor; DESIGN.md measured 10-15%
of the frames of some clips). Crops are kept exactly as the gateway cuts them, but each is
flagged by a second look: does the cascade find a face inside the crop itself? Training can
skip the crops where it does not, while evaluation still scores all of them, as the gateway does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from api.contract import DEFAULT_CROP_SIZE
from api.pipeline.extract import extract_faces, extract_image_faces
from api.pipeline.faces import CASCADE_FILE, HaarFaceDetector, crop, expand, largest

MARGIN = 0.2  # the gateway's FACE_MARGIN default
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Tightly cropped face photos (UTKFace) leave Haar no context; retry with this much border.
RETRY_PAD = 0.3
# The in-crop check: the crop (DEFAULT_CROP_SIZE px) upscaled to 96 px, where a face grown by
# the 0.2 margin is ~80 px wide; 3 neighbours pass 99-100% of the face crops of ../shared/data
# and no blank crop.
CHECK_SIZE = 96
CHECK_MIN_FACE = 40
CHECK_NEIGHBOURS = 3


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def face_in_crop(rgb: np.ndarray, cascade: cv2.CascadeClassifier | None = None) -> bool:
    """Whether the Haar cascade finds a face inside an RGB crop."""
    cascade = cascade or _check_cascade()
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (CHECK_SIZE, CHECK_SIZE), interpolation=cv2.INTER_LINEAR)
    found = cascade.detectMultiScale(
        grey,
        scaleFactor=1.1,
        minNeighbors=CHECK_NEIGHBOURS,
        minSize=(CHECK_MIN_FACE, CHECK_MIN_FACE),
    )
    return len(found) > 0


_CASCADES: dict[int, cv2.CascadeClassifier] = {}


def _check_cascade() -> cv2.CascadeClassifier:
    # One per process (cropping runs in worker processes, each single-threaded).
    import os

    pid = os.getpid()
    if pid not in _CASCADES:
        _CASCADES[pid] = cv2.CascadeClassifier(str(CASCADE_FILE))
    return _CASCADES[pid]


@dataclass(slots=True)
class Crops:
    """The face crops of one image or video."""

    crops: list[np.ndarray] = field(
        default_factory=list
    )  # RGB uint8 [S, S, 3], S = DEFAULT_CROP_SIZE
    times: list[float] = field(default_factory=list)  # seconds; 0.0 for a still image
    confident: list[bool] = field(default_factory=list)  # the cascade sees a face in the crop
    sampled: int = 0  # frames looked at (1 for an image)


def image_crops(
    path: Path,
    detector: HaarFaceDetector,
    margin: float = MARGIN,
    check: bool = True,
    size: int = DEFAULT_CROP_SIZE,
) -> Crops:
    """The largest face of a still image, as the gateway crops images.

    When nothing is found the image is retried with a replicated border (tight face crops leave
    the cascade no context), with the same search and crop functions; failing that, no crop.
    """
    samples = extract_image_faces(path, detector=detector, margin=margin, crop_size=size)
    faces = samples.frames[0].faces if samples.frames else []
    if faces:
        chosen = faces[0].crop  # largest first
    else:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot read image {path}")
        padded = _pad(bgr, RETRY_PAD)
        box = largest(detector.detect_all(padded))
        if box is None:
            return Crops(sampled=1)
        height, width = padded.shape[:2]
        chosen = crop(padded, expand(box, width, height, margin), size)
    return Crops(
        crops=[chosen], times=[0.0], confident=[face_in_crop(chosen) if check else True], sampled=1
    )


def video_crops(
    path: Path,
    detector: HaarFaceDetector,
    *,
    target_fps: float,
    max_frames: int,
    margin: float = MARGIN,
    check: bool = True,
    size: int = DEFAULT_CROP_SIZE,
) -> Crops:
    """The largest-face crops the gateway cuts from this video (extract_faces, unchanged)."""
    samples = extract_faces(
        path,
        target_fps=target_fps,
        max_frames=max_frames,
        detector=detector,
        margin=margin,
        crop_size=size,
    )
    crops = list(samples.crops)
    return Crops(
        crops=crops,
        times=list(samples.times),
        confident=[face_in_crop(c) if check else True for c in crops],
        sampled=samples.sampled_frames,
    )


def media_crops(
    path: Path,
    detector: HaarFaceDetector,
    *,
    target_fps: float,
    max_frames: int,
    margin: float = MARGIN,
    check: bool = True,
    size: int = DEFAULT_CROP_SIZE,
) -> Crops:
    if is_video(path):
        return video_crops(
            path,
            detector,
            target_fps=target_fps,
            max_frames=max_frames,
            margin=margin,
            check=check,
            size=size,
        )
    if is_image(path):
        return image_crops(path, detector, margin, check, size)
    raise ValueError(f"{path} is neither an image nor a video ({path.suffix})")


def _pad(bgr: np.ndarray, fraction: float) -> np.ndarray:
    if fraction <= 0:
        return bgr
    top = round(bgr.shape[0] * fraction)
    side = round(bgr.shape[1] * fraction)
    return cv2.copyMakeBorder(bgr, top, top, side, side, cv2.BORDER_REPLICATE)
