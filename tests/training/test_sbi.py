"""Self-blended fakes change pixels only inside their face mask, and differently every time."""

from __future__ import annotations

import numpy as np
import pytest

from api.contract import DEFAULT_CROP_SIZE as SIZE
from tests.support.training_data import face_crops
from training.sbi import face_mask, self_blend, self_blend_batch


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return face_crops(6)


@pytest.mark.parametrize("seed", range(12))
def test_changed_pixels_lie_inside_the_mask(crops: np.ndarray, seed: int) -> None:
    crop = crops[seed % len(crops)]
    blended, mask = self_blend(crop, np.random.default_rng(seed))
    changed = (blended != crop).any(axis=-1)
    assert changed.sum() > 50  # it did blend something
    assert (mask[changed] > 0).all()
    outside = mask == 0
    assert outside.sum() > SIZE * SIZE // 5  # the border of the crop stays untouched
    assert np.array_equal(blended[outside], crop[outside])


def test_the_mask_is_a_soft_face_shaped_blob() -> None:
    mask = face_mask(SIZE, np.random.default_rng(3))
    assert mask.dtype == np.float32
    assert mask.shape == (SIZE, SIZE)
    assert mask.max() == pytest.approx(1.0)
    assert mask.min() == 0.0
    assert mask[SIZE // 2 + 2, SIZE // 2] == pytest.approx(1.0)  # the face centre is fully blended
    assert (mask[[0, 0, -1, -1], [0, -1, 0, -1]] == 0).all()  # corners never are
    # Soft: a ramp of intermediate values between inside and outside.
    assert ((mask > 0.05) & (mask < 0.95)).sum() > 30


def test_same_seed_same_blend_new_draws_new_blend(crops: np.ndarray) -> None:
    first, _ = self_blend(crops[0], np.random.default_rng(1))
    again, _ = self_blend(crops[0], np.random.default_rng(1))
    assert np.array_equal(first, again)
    rng = np.random.default_rng(2)
    one, two = self_blend_batch(crops[:1], rng), self_blend_batch(crops[:1], rng)
    assert one.shape == two.shape == (1, SIZE, SIZE, 3)
    assert not np.array_equal(one, two)


def test_rejects_what_is_not_a_uint8_crop(crops: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8"):
        self_blend(crops[0].astype(np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="square"):
        self_blend(crops[0][:, :40], np.random.default_rng(0))
