"""The one interface every scoring backend implements."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np

from api.errors import BackendBadResponse, BackendError

BackendName = Literal["embedded", "tfserving"]


@dataclass(frozen=True, slots=True)
class Scored:
    scores: np.ndarray  # float32 [N], P(fake) per crop
    version: str  # the model version that produced them


@dataclass(frozen=True, slots=True)
class BackendStatus:
    ready: bool  # can score a batch right now
    detail: str  # a human-readable reason, most useful when not ready
    version: str | None = None  # the version that would answer, when known


class CropSizeChanged(BackendError):
    """The model version that would score takes crops of another size than the upload was
    cropped at (a version label moved to it during the request): send the upload again."""

    status_code = 503
    code = "crop_size_changed"


class ScoringBackend(ABC):
    """Scores face crops: RGB uint8 [N, S, S, 3] -> P(fake) [N], S the version's `crop_size`.

    Backends take the crops as bytes and bring them to the model's input themselves (float32
    in [0, 1] for serving_default), so a compact wire format needs no lossy round trip."""

    name: BackendName

    @property
    def runtime(self) -> str:
        """What computes the scores (the embedded backend says which runtime)."""
        return self.name

    @abstractmethod
    async def predict(self, crops: np.ndarray) -> Scored:
        """Scores for the crops, and the model version that computed them."""

    @abstractmethod
    async def crop_size(self) -> int:
        """The crop size the version that would answer now takes (what its signature fixes,
        DEFAULT_CROP_SIZE when it leaves it open); raises BackendError as `predict` does."""

    @abstractmethod
    async def status(self) -> BackendStatus: ...

    @abstractmethod
    async def close(self) -> None: ...


def check_crops(crops: np.ndarray, size: int, version: str) -> None:
    """Refuse crops the version does not take, rather than have it score (or reject) them."""
    if crops.shape[1:3] != (size, size):
        got = "x".join(str(d) for d in crops.shape[1:3])
        raise CropSizeChanged(
            f"Model version {version} takes {size}x{size} crops but the upload was cropped at "
            f"{got} (the version label moved while it was read): send it again.",
            headers={"Retry-After": "1"},
        )


def check_scores(raw: object, expected: int, source: str) -> np.ndarray:
    """Validate a model's answer: one finite probability per crop, whatever its nesting."""
    try:
        scores = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BackendBadResponse(f"{source} returned scores that are not numbers: {exc}") from exc
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.shape != (expected,):
        raise BackendBadResponse(
            f"{source} returned scores of shape {list(scores.shape)} for {expected} crops; "
            "the model must have one sigmoid output per crop"
        )
    bad = [float(v) for v in scores if not (math.isfinite(v) and 0.0 <= v <= 1.0)]
    if bad:
        raise BackendBadResponse(
            f"{source} returned {len(bad)} score(s) outside [0, 1] (first: {bad[0]}); "
            "the model output must be a probability"
        )
    return scores.astype(np.float32)
