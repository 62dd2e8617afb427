"""The SD watermark decoder: bit for bit the package's own, and silent on unmarked images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from api.provenance.watermark import block_scores, decode, vote
from tests.support import provenance as pv
from tests.support.videos import astronaut_bgr, face_frame, two_faces_frame

MEDIA = Path(__file__).parents[1] / "fixtures" / "media"


def _skimage_photos() -> list[np.ndarray]:
    photos = []
    for path in sorted(Path(data.data_dir).iterdir()):
        if path.suffix in (".png", ".jpg"):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                photos.append(image)
    return photos


def unmarked_images() -> Iterator[np.ndarray]:
    """A few hundred natural and synthetic images, none watermarked."""
    rng = np.random.default_rng(7)
    for photo in _skimage_photos():
        h, w = photo.shape[:2]
        yield photo
        yield photo[:, ::-1]
        yield cv2.resize(photo, (max(256, w * 3 // 2), max(256, h * 3 // 2)))
        for _ in range(3):  # crops at random offsets change every block's content
            y, x = int(rng.integers(0, max(1, h // 4))), int(rng.integers(0, max(1, w // 4)))
            yield photo[y:, x:]
        yield cv2.GaussianBlur(photo, (5, 5), 0)
    faces = data.lfw_subset()  # type: ignore[no-untyped-call]  # 200 25x25 grayscale faces
    for face in faces[::2]:
        gray = (face * 255).astype(np.uint8)
        yield cv2.cvtColor(cv2.resize(gray, (256, 256)), cv2.COLOR_GRAY2BGR)
    for i in range(24):
        yield face_frame(i, 24)
        yield two_faces_frame(i, 24)
    for _ in range(20):
        yield rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    yield np.zeros((512, 512, 3), np.uint8)
    yield np.full((512, 512, 3), 255, np.uint8)
    for path in sorted(MEDIA.iterdir()):
        capture = cv2.VideoCapture(str(path))
        for _ in range(5):
            ok, frame = capture.read()
            if ok and frame.shape[0] * frame.shape[1] >= 256 * 256:
                yield frame
        capture.release()


def test_no_false_positive_on_unmarked_images() -> None:
    count = 0
    for image in unmarked_images():
        assert decode(np.ascontiguousarray(image)) == []
        count += 1
    assert count >= 300


@pytest.mark.parametrize("length", [136, 48, 32])
def test_bits_match_the_package_decoder(length: int) -> None:
    rng = np.random.default_rng(length)
    photo = astronaut_bgr().copy()
    for image in (photo, rng.integers(0, 256, (301, 419, 3), dtype=np.uint8), photo[3:, 5:]):
        image = np.ascontiguousarray(image)
        assert vote(block_scores(image), length) == pv.reference_decode(image, length)


def test_each_known_payload_is_found() -> None:
    # 512x512, as SD generates (multiples of 64). The reference encoder itself does not
    # round-trip every size: on coffee (600x400) its own decoder gets 36 of 136 bits wrong.
    photo = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)  # type: ignore[no-untyped-call]
    assert [w.payload for w in decode(pv.sd_watermark(photo))] == ["StableDiffusionV1"]
    assert [w.payload for w in decode(pv.sd_watermark(photo, b"SDV2"))] == ["SDV2"]
    other = pv.sd_watermark(photo, b"SomethingElseV1!!")  # same length, another payload
    assert decode(other) == []


def test_jpeg_erases_it() -> None:
    marked = pv.sd_watermark(astronaut_bgr().copy())
    _, encoded = cv2.imencode(".jpg", marked, [cv2.IMWRITE_JPEG_QUALITY, 90])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decode(decoded) == []
