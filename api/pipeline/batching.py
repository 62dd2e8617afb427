"""Batches of crops cut to the size a backend accepts in one call."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def chunks(batch: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Consecutive slices of at most `size` rows (views, no copies)."""
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    for start in range(0, len(batch), size):
        yield batch[start : start + size]
