from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from api.pipeline.faces import (
    Box,
    DetectorConfig,
    HaarFaceDetector,
    crop,
    expand,
    largest,
)
from tests.support.videos import astronaut_bgr, blank_frame

# Where OpenCV's cascade finds the astronaut's face in the 512x512 photo.
FACE_IN_PHOTO = (177, 66, 95, 95)


def iou(a: Box, b: Box) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def scene(width: int, height: int, x: int, y: int, side: int) -> tuple[np.ndarray, Box]:
    """The photo pasted at (x, y) with the given side; returns the frame and the face's box."""
    frame = blank_frame(width, height)
    frame[y : y + side, x : x + side] = cv2.resize(astronaut_bgr(), (side, side))
    s = side / 512
    fx, fy, fw, fh = FACE_IN_PHOTO
    return frame, (round(x + fx * s), round(y + fy * s), round(fw * s), round(fh * s))


@pytest.mark.parametrize(
    ("width", "height", "x", "y", "side", "max_side"),
    [
        (640, 360, 40, 20, 300, 640),  # no downscaling needed
        (1280, 720, 500, 100, 512, 640),  # detection at half size
        (1920, 1080, 900, 300, 700, 640),  # detection at a third
        (1920, 1080, 900, 300, 700, 0),  # full resolution
    ],
)
def test_detect_finds_the_face_in_source_pixels(
    width: int, height: int, x: int, y: int, side: int, max_side: int
) -> None:
    frame, expected = scene(width, height, x, y, side)
    boxes = HaarFaceDetector(DetectorConfig(max_side=max_side)).detect(frame)
    assert len(boxes) == 1
    assert iou(boxes[0], expected) > 0.6


def test_detect_finds_nothing_in_a_blank_frame() -> None:
    assert HaarFaceDetector().detect(blank_frame(1280, 720)) == []


def paste(frame: np.ndarray, x: int, y: int, side: int) -> Box:
    """Paste the photo into `frame` at (x, y), cut where it leaves the frame; returns the
    face's box."""
    photo = cv2.resize(astronaut_bgr(), (side, side))
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
    frame[y0:y1, x0:x1] = photo[y0 - y : y1 - y, x0 - x : x1 - x]
    s = side / 512
    fx, fy, fw, fh = FACE_IN_PHOTO
    return round(x + fx * s), round(y + fy * s), round(fw * s), round(fh * s)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ((0, 20, 1040), (880, 20, 1040)),  # ~190 px faces: the coarse copy sees them
        ((60, 200, 700), (1100, 250, 640)),  # ~125 px: only the max_side copy sees them
    ],
)
def test_an_excluded_face_is_not_searched_and_the_others_are_found(
    left: tuple[int, int, int], right: tuple[int, int, int]
) -> None:
    frame = blank_frame(1920, 1080)
    known, other = paste(frame, *left), paste(frame, *right)
    detector = HaarFaceDetector()
    assert len(detector.detect(frame)) == 2
    found = detector.detect(frame, exclude=[known])
    assert len(found) == 1
    assert iou(found[0], other) > 0.6
    assert detector.detect(frame, exclude=[known, other]) == []
    assert detector.detect_all(frame, exclude=[known, other]) == []


def test_detect_all_finds_a_small_face_beside_a_big_one() -> None:
    """The coarse copy finds the big face only; the search at max_side, limited to small
    faces and with the big one blanked, adds the small one."""
    frame = blank_frame(1920, 1080)
    big, small = paste(frame, -300, -100, 1800), paste(frame, 1300, 300, 600)  # 334, 111 px
    detector = HaarFaceDetector()
    coarse = detector.detect(frame)
    assert max(iou(b, big) for b in coarse) > 0.6
    assert max(iou(b, small) for b in coarse) == 0.0
    found = detector.detect_all(frame)
    assert max(iou(b, big) for b in found) > 0.6
    assert max(iou(b, small) for b in found) > 0.5


def test_a_frame_without_a_big_face_is_searched_at_max_side() -> None:
    frame = blank_frame(1920, 1080)
    small = paste(frame, 800, 300, 600)  # ~111 px: too small for the coarse copy
    found = HaarFaceDetector().detect(frame)
    assert len(found) == 1
    assert iou(found[0], small) > 0.5


def test_detection_scale() -> None:
    detector = HaarFaceDetector(DetectorConfig(max_side=640))
    assert detector.detection_scale(1920, 1080) == pytest.approx(1 / 3)
    assert detector.detection_scale(640, 480) == 1.0
    assert HaarFaceDetector(DetectorConfig(max_side=0)).detection_scale(4000, 3000) == 1.0


def test_detector_is_safe_to_share_between_threads() -> None:
    frames = [scene(1280, 720, 100 + 40 * i, 100, 400)[0] for i in range(8)]
    detector = HaarFaceDetector()
    alone = [detector.detect(f) for f in frames]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(detector.detect, frames * 3))
    assert together == alone * 3


def test_largest() -> None:
    assert largest([]) is None
    assert largest([(0, 0, 10, 10), (5, 5, 30, 20), (1, 1, 20, 20)]) == (5, 5, 30, 20)


@pytest.mark.parametrize(
    ("box", "margin", "expected"),
    [
        ((100, 100, 50, 50), 0.0, (100, 100, 50, 50)),
        ((100, 100, 50, 50), 0.2, (95, 95, 60, 60)),  # 1.2x about the centre
        ((100, 100, 50, 50), 1.0, (75, 75, 100, 100)),
        ((0, 0, 50, 50), 0.2, (0, 0, 60, 60)),  # clipped at the top-left corner
        ((600, 330, 40, 30), 0.5, (590, 322, 50, 38)),  # clipped at the bottom-right corner
    ],
)
def test_expand(box: Box, margin: float, expected: Box) -> None:
    assert expand(box, 640, 360, margin) == expected


def test_crop_is_rgb_and_model_sized() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[:, :, 0] = 200  # blue in BGR
    patch = crop(frame, (10, 20, 100, 120))
    assert patch.shape == (64, 64, 3)
    assert patch.dtype == np.uint8
    assert (patch[..., 2] == 200).all()  # blue is last in RGB
    assert (patch[..., :2] == 0).all()


def test_crop_upsamples_small_faces() -> None:
    frame = np.full((100, 100, 3), 7, np.uint8)
    assert crop(frame, (10, 10, 20, 20)).shape == (64, 64, 3)


def test_crop_rejects_an_empty_box() -> None:
    with pytest.raises(ValueError, match="empty"):
        crop(np.zeros((10, 10, 3), np.uint8), (5, 5, 0, 4))
