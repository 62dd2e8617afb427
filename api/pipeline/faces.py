"""Find faces with OpenCV's Haar cascade and cut them out as model-sized RGB crops.

Detection runs on a grey, downscaled copy (Haar cost grows with pixel count; a 1080p frame takes
~170 ms at full size and ~30 ms at 640 px, DESIGN.md) and the boxes are mapped back to source
pixels, so crops keep the source's full detail.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from api.contract import DEFAULT_CROP_SIZE

Box = tuple[int, int, int, int]  # x, y, w, h in source pixels

CASCADE_FILE = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    max_side: int = 640  # longer side of the detection copy; 0 = full resolution
    min_face: int = 30  # smallest face searched for, in detection-copy pixels
    scale_factor: float = 1.1
    min_neighbors: int = 5
    # Search a copy this small first; only when it holds no face, search at max_side. A face
    # found here is at least twice the smallest findable at max_side, so the largest face is
    # never missed, and talking-head frames cost a third. 0 = off.
    coarse_side: int = 320
    # A followed face is scaled to this width (detection pixels) and searched between 0.75x
    # and 1.35x of it by default (sizes move little between sampled frames). Smaller is
    # cheaper, but below ~40 px the cascade starts to miss faces it finds at full size.
    follow_face: int = 48
    follow_scale_factor: float = 1.2


class HaarFaceDetector:
    """Thread-safe: OpenCV's CascadeClassifier is not, so each thread gets its own."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        if not CASCADE_FILE.is_file():
            raise RuntimeError(
                f"Haar cascade not found at {CASCADE_FILE}: opencv-python-headless>=5 dropped "
                "the cascades; install a 4.x release (the project pins <5)."
            )
        self._local = threading.local()

    def _cascade(self) -> cv2.CascadeClassifier:
        cascade = getattr(self._local, "cascade", None)
        if cascade is None:
            cascade = cv2.CascadeClassifier(str(CASCADE_FILE))
            if cascade.empty():
                raise RuntimeError(f"OpenCV could not load the Haar cascade {CASCADE_FILE}")
            self._local.cascade = cascade
        return cascade

    def detection_scale(self, width: int, height: int, max_side: int | None = None) -> float:
        """Factor from source pixels to detection pixels (<= 1)."""
        limit = self.config.max_side if max_side is None else max_side
        side = max(width, height)
        if limit <= 0 or side <= limit:
            return 1.0
        return limit / side

    def detect(self, bgr: np.ndarray, exclude: Sequence[Box] = ()) -> list[Box]:
        """The faces in a BGR frame, in source pixels: those of the coarse copy when it has
        any (the largest face is then among them), else the small ones of the max_side copy.

        `exclude` are faces already known in this frame (source pixels): they are blanked out
        of the search, which then costs what the background costs (a face-filled window is the
        expensive case), and count as faces of the coarse copy when they are large enough for it.
        """
        return self._search(bgr, fine=False, exclude=exclude)

    def detect_all(self, bgr: np.ndarray, exclude: Sequence[Box] = ()) -> list[Box]:
        """Every face findable at max_side, including small ones beside big ones."""
        return self._search(bgr, fine=True, exclude=exclude)

    def _search(self, bgr: np.ndarray, *, fine: bool, exclude: Sequence[Box]) -> list[Box]:
        found = self._search_copies(bgr, fine=fine, exclude=exclude)
        if not exclude:
            return found
        # A blanked patch leaves edges beside it that the cascade can take for a face (seen in
        # synthetic scenes): a face found this way counts only if the frame as it is, searched
        # around it, shows one there too (rare: it costs one small search per new face).
        confirmed: list[Box] = []
        height, width = bgr.shape[:2]
        for box in found:
            again = largest(self.detect_near(bgr, expand(box, width, height, 1.0), box[2]))
            if again is not None and all(iou(again, known) < 0.4 for known in exclude):
                confirmed = merge(confirmed, [again])
        return confirmed

    def _search_copies(self, bgr: np.ndarray, *, fine: bool, exclude: Sequence[Box]) -> list[Box]:
        height, width = bgr.shape[:2]
        frame, size = (0, 0, width, height), (self.config.min_face, self.config.min_face)
        scale = self.detection_scale(width, height)
        coarse = self.config.coarse_side
        if not (0 < coarse < self.config.max_side and max(width, height) > coarse):
            return self._detect(bgr, frame, scale, size, None, self.config.scale_factor, exclude)
        coarse_scale = self.detection_scale(width, height, coarse)
        found = self._detect(
            bgr, frame, coarse_scale, size, None, self.config.scale_factor, exclude
        )
        # As without `exclude`: the coarse copy decides unless the frame has no face it can see.
        seen = [b for b in exclude if min(b[2], b[3]) * coarse_scale >= self.config.min_face]
        if not fine and (found or seen):
            return found
        exclude = [*exclude, *found]  # small faces beside these are wanted, not these again
        # The coarse copy found every face at least `smallest` wide at max_side; search there
        # only below 1.5x that (the overlap covers faces near the coarse copy's limit), which
        # skips the large-window scales, and with the faces found blanked: ~18 ms instead of
        # ~60 ms at 640 px on a talking head.
        smallest = self.config.min_face * scale / coarse_scale
        limit = round(1.5 * smallest)
        more = self._detect(
            bgr, frame, scale, size, (limit, limit), self.config.scale_factor, exclude
        )
        return merge(found, more)

    def detect_near(
        self, bgr: np.ndarray, window: Box, face: int, spread: tuple[float, float] = (0.75, 1.35)
    ) -> list[Box]:
        """Faces `spread` times about `face` source pixels wide inside `window`: a small,
        cheap search used to follow a face found in the previous sampled frame."""
        # Shrink by a whole factor, on a window of whole k x k blocks: INTER_AREA then
        # averages blocks, 4x faster than a fractional factor (~0.2 vs ~0.9 ms at 1080p).
        k = max(1, round(face / self.config.follow_face))
        wx, wy, ww, wh = window
        window = (wx, wy, max(k, ww - ww % k), max(k, wh - wh % k))
        expected = face / k
        low, high = max(24, round(spread[0] * expected)), round(spread[1] * expected)
        factor = self.config.follow_scale_factor
        return self._detect(bgr, window, 1.0 / k, (low, low), (high, high), factor)

    def _detect(
        self,
        bgr: np.ndarray,
        window: Box,
        scale: float,
        min_size: tuple[int, int],
        max_size: tuple[int, int] | None,
        scale_factor: float,
        exclude: Sequence[Box] = (),
    ) -> list[Box]:
        wx, wy, ww, wh = window
        grey = cv2.cvtColor(bgr[wy : wy + wh, wx : wx + ww], cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            size = (max(1, round(ww * scale)), max(1, round(wh * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if exclude:
            _blank(grey, exclude, scale, wx, wy)
        found = self._cascade().detectMultiScale(
            grey,
            scaleFactor=scale_factor,
            minNeighbors=self.config.min_neighbors,
            minSize=min_size,
            maxSize=max_size or (0, 0),
        )
        height, width = bgr.shape[:2]
        return [_to_source(box, scale, width, height, wx, wy) for box in found]


EXCLUDE_MARGIN = 0.25  # blank a known face with some of its hair, chin and ears around it


def _blank(grey: np.ndarray, boxes: Sequence[Box], scale: float, dx: int, dy: int) -> None:
    """Replace each box (source pixels) of a detection copy by a smooth ramp of its own
    brightness: it fails the cascade's first stages, so it costs nothing and is not found
    again. (A flat fill of the frame's mean left hard edges that, once in a synthetic test,
    made a false face beside the patch; over 711 frames of real clips neither fill did.)"""
    height, width = grey.shape[:2]
    for box in boxes:
        x, y, w, h = expand(box, 1 << 30, 1 << 30, EXCLUDE_MARGIN)
        x0, y0 = max(0, int((x - dx) * scale)), max(0, int((y - dy) * scale))
        x1 = min(width, int((x + w - dx) * scale) + 1)
        y1 = min(height, int((y + h - dy) * scale) + 1)
        if x1 > x0 and y1 > y0:
            corners = cv2.resize(grey[y0:y1, x0:x1], (2, 2), interpolation=cv2.INTER_AREA)
            grey[y0:y1, x0:x1] = cv2.resize(corners, (x1 - x0, y1 - y0))


def _to_source(
    box: Sequence[int], scale: float, width: int, height: int, dx: int = 0, dy: int = 0
) -> Box:
    x, y, w, h = (float(v) / scale for v in box)
    x, y = x + dx, y + dy
    x0, y0 = max(0, round(x)), max(0, round(y))
    x1, y1 = min(width, round(x + w)), min(height, round(y + h))
    return x0, y0, x1 - x0, y1 - y0


def largest(boxes: list[Box]) -> Box | None:
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not touch)."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def merge(first: list[Box], second: list[Box], overlap: float = 0.4) -> list[Box]:
    """Boxes of both lists, a box of `second` dropped when it overlaps one already kept."""
    kept = list(first)
    for box in second:
        if all(iou(box, other) < overlap for other in kept):
            kept.append(box)
    return kept


def expand(box: Box, width: int, height: int, margin: float) -> Box:
    """Grow a box about its centre by `margin` of its size (0.2 -> 1.2x), clipped to the frame."""
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    nw, nh = int(w * (1.0 + margin)), int(h * (1.0 + margin))
    x0, y0 = max(0, int(cx - nw / 2.0)), max(0, int(cy - nh / 2.0))
    x1, y1 = min(width, x0 + nw), min(height, y0 + nh)
    return x0, y0, x1 - x0, y1 - y0


def crop(bgr: np.ndarray, box: Box, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """The box as an RGB uint8 [size, size, 3] patch."""
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise ValueError(f"empty crop box {box}")
    interpolation = cv2.INTER_AREA if min(w, h) >= size else cv2.INTER_LINEAR
    # Resize first: swapping channels commutes with resizing, and costs less on 64x64.
    patch = cv2.resize(bgr[y : y + h, x : x + w], (size, size), interpolation=interpolation)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
