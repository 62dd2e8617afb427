"""Model input: RGB 64x64 float32 in [0, 1] (pixel / 255), the contract of serving_default."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def to_model_input(crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack uint8 RGB crops into a float32 [N, H, W, 3] batch scaled to [0, 1]."""
    batch = np.asarray(crops)
    if batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"expected [N, H, W, 3] crops, got shape {batch.shape}")
    if batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops, got {batch.dtype}")
    return batch.astype(np.float32) / np.float32(255.0)


def chunks(batch: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive slices of at most `size` rows (views, no copies)."""
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    for start in range(0, len(batch), size):
        yield batch[start : start + size]
