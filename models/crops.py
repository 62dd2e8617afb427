"""Images and videos -> 64x64 RGB face crops, through the gateway's own pipeline code.

Training, evaluation and serving must see identical crops, so videos go through
`api.pipeline.extract.extract_faces` (same sampling, same Haar detector, same "largest face",
same margin, same resize) and still images through the same detector, `largest`, `expand` and
`crop` functions.

Haar's "largest face" is a non-face (a wall, a floor) in roughly 10-15% of the frames of some
clips (DESIGN.md). The gateway still uses the largest box; for training data we keep those crops
but flag whether the largest box is also the one the cascade is most sure of
(`detectMultiScale3` level weights), so training can drop the doubtful ones while evaluation
still scores exactly what the gateway would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from api.pipeline.extract import extract_faces
from api.pipeline.faces import Box, DetectorConfig, HaarFaceDetector, crop, expand, largest

MARGIN = 0.2  # the gateway's FACE_MARGIN default
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Largest and most-confident boxes count as the same face above this overlap.
SAME_FACE_IOU = 0.5
# Tightly cropped face photos (UTKFace) leave Haar no context; retry with this much border.
RETRY_PAD = 0.3


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class ConfidenceDetector(HaarFaceDetector):
    """The gateway's detector, which also remembers the box the cascade is most sure of.

    `detect` answers exactly what HaarFaceDetector answers (so crops stay identical); after each
    call that found something, `confident` holds the detection with the highest level weight.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__(config)
        self.confident: list[Box | None] = []  # one entry per detect() call that found a face

    def detect(self, bgr: np.ndarray) -> list[Box]:
        boxes = super().detect(bgr)
        if boxes:
            self.confident.append(self.most_confident(bgr))
        return boxes

    def most_confident(self, bgr: np.ndarray) -> Box | None:
        height, width = bgr.shape[:2]
        scale = self.detection_scale(width, height)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        found, _, weights = self._cascade().detectMultiScale3(
            grey,
            scaleFactor=self.config.scale_factor,
            minNeighbors=self.config.min_neighbors,
            minSize=(self.config.min_face, self.config.min_face),
            outputRejectLevels=True,
        )
        if len(found) == 0:
            return None
        x, y, w, h = (round(float(v) / scale) for v in found[int(np.argmax(weights))])
        return x, y, w, h


@dataclass(slots=True)
class Crops:
    """The face crops of one image or video."""

    crops: list[np.ndarray] = field(default_factory=list)  # RGB uint8 [64, 64, 3]
    times: list[float] = field(default_factory=list)  # seconds; 0.0 for a still image
    confident: list[bool] = field(default_factory=list)  # largest box == most confident box
    sampled: int = 0  # frames looked at (1 for an image)


def image_crops(path: Path, detector: HaarFaceDetector, margin: float = MARGIN) -> Crops:
    """The largest face of a still image, cropped as the gateway crops video frames.

    When nothing is found the image is retried with a replicated border (tight face crops have
    no context for the cascade); when that finds nothing either, the result is empty.
    """
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {path}")
    if isinstance(detector, ConfidenceDetector):
        detector.confident.clear()
    out = Crops(sampled=1)
    for pad in (0.0, RETRY_PAD):
        image = _pad(bgr, pad)
        box = largest(detector.detect(image))
        if box is None:
            continue
        height, width = image.shape[:2]
        out.crops.append(crop(image, expand(box, width, height, margin)))
        out.times.append(0.0)
        out.confident.append(_agrees(detector, box))
        break
    return out


def video_crops(
    path: Path,
    detector: HaarFaceDetector,
    *,
    target_fps: float,
    max_frames: int,
    margin: float = MARGIN,
) -> Crops:
    """The crops the gateway would score for this video (extract_faces, unchanged)."""
    if isinstance(detector, ConfidenceDetector):
        detector.confident.clear()
    samples = extract_faces(
        path, target_fps=target_fps, max_frames=max_frames, detector=detector, margin=margin
    )
    if isinstance(detector, ConfidenceDetector):
        confident = [
            sure is not None and iou(box, sure) >= SAME_FACE_IOU
            for box, sure in zip(samples.boxes, detector.confident, strict=True)
        ]
    else:
        confident = [True] * len(samples.crops)
    return Crops(
        crops=list(samples.crops),
        times=list(samples.times),
        confident=confident,
        sampled=samples.sampled_frames,
    )


def media_crops(
    path: Path,
    detector: HaarFaceDetector,
    *,
    target_fps: float,
    max_frames: int,
    margin: float = MARGIN,
) -> Crops:
    if is_video(path):
        return video_crops(
            path, detector, target_fps=target_fps, max_frames=max_frames, margin=margin
        )
    if is_image(path):
        return image_crops(path, detector, margin)
    raise ValueError(f"{path} is neither an image nor a video ({path.suffix})")


def _pad(bgr: np.ndarray, fraction: float) -> np.ndarray:
    if fraction <= 0:
        return bgr
    top = round(bgr.shape[0] * fraction)
    side = round(bgr.shape[1] * fraction)
    return cv2.copyMakeBorder(bgr, top, top, side, side, cv2.BORDER_REPLICATE)


def _agrees(detector: HaarFaceDetector, box: Box) -> bool:
    if not isinstance(detector, ConfidenceDetector):
        return True
    sure = detector.confident[-1]
    return sure is not None and iou(box, sure) >= SAME_FACE_IOU
