from __future__ import annotations

import numpy as np
import pytest

from api.contract import to_model_input
from api.pipeline.batching import chunks


def test_to_model_input_scales_to_unit_range() -> None:
    crops = [np.full((64, 64, 3), v, np.uint8) for v in (0, 51, 255)]
    batch = to_model_input(crops)
    assert batch.dtype == np.float32
    assert batch.shape == (3, 64, 64, 3)
    assert batch[:, 0, 0, 0].tolist() == pytest.approx([0.0, 0.2, 1.0])


@pytest.mark.parametrize(
    ("crops", "message"),
    [
        (np.zeros((2, 64, 64), np.uint8), "shape"),
        (np.zeros((2, 64, 64, 4), np.uint8), "shape"),
        (np.zeros((2, 64, 64, 3), np.float32), "uint8"),
    ],
)
def test_to_model_input_rejects_wrong_crops(crops: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_model_input(crops)


@pytest.mark.parametrize(
    ("n", "size", "lengths"),
    [(0, 4, []), (3, 4, [3]), (8, 4, [4, 4]), (10, 4, [4, 4, 2]), (5, 1, [1] * 5)],
)
def test_chunks(n: int, size: int, lengths: list[int]) -> None:
    batch = np.arange(n)
    parts = list(chunks(batch, size))
    assert [len(p) for p in parts] == lengths
    assert (np.concatenate(parts).tolist() if parts else []) == batch.tolist()


def test_chunks_rejects_zero_size() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        list(chunks(np.arange(3), 0))
