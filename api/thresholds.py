"""Which decision threshold applies, the uncertainty band around it, and where they came from.

Precedence: an operating point named in the request (`?operating_point=fpr1`, thresholds chosen
on validation for stated false-positive rates, from the model card); else an explicit THRESHOLD
setting; else the threshold in the model card of the version that answered
(`<MODEL_BASE_PATH>/<name>/<version>/model_card.json`); else 0.5, the original default. The
card's "uncertainty_band" applies as written around the card's threshold; around another
threshold it keeps its reach below and above (the band moves with the threshold).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from api.contract import CARD_FILE
from api.errors import InvalidRequest

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class ThresholdChoice:
    threshold: float
    source: str  # "THRESHOLD setting", "model card v1", "model card v1, operating point fpr1"...
    band: tuple[float, float]  # scores in [low, high) are too close to call
    operating_point: str | None = None


@dataclass(frozen=True, slots=True)
class Card:
    threshold: float | None
    below: float  # how far the band reaches below the threshold (0: no band)
    above: float  # ... and above it
    operating_points: dict[str, float]

    def band(self, threshold: float) -> tuple[float, float]:
        return max(0.0, threshold - self.below), min(1.0, threshold + self.above)


class ThresholdPolicy:
    def __init__(self, explicit: float | None, model_dir: Path) -> None:
        self.explicit = explicit
        self.model_dir = model_dir  # <MODEL_BASE_PATH>/<MODEL_NAME>

    def card(self, version: str) -> Card | None:
        return read_card(self.model_dir / version / CARD_FILE)

    def decide(self, version: str, operating_point: str | None = None) -> ThresholdChoice:
        card = self.card(version)
        band = card.band if card else _no_band
        if operating_point is not None:
            points = card.operating_points if card else {}
            if operating_point not in points:
                raise InvalidRequest(
                    f"Unknown operating_point '{operating_point}' for model version {version}; "
                    f"available: {sorted(points) or 'none (the model card lists none)'}."
                )
            t = points[operating_point]
            source = f"model card v{version}, operating point {operating_point}"
            return ThresholdChoice(t, source, band(t), operating_point)
        if self.explicit is not None:
            return ThresholdChoice(self.explicit, "THRESHOLD setting", band(self.explicit))
        if card is not None and card.threshold is not None:
            return ThresholdChoice(card.threshold, f"model card v{version}", band(card.threshold))
        return ThresholdChoice(DEFAULT_THRESHOLD, "default", band(DEFAULT_THRESHOLD))


def _no_band(threshold: float) -> tuple[float, float]:
    return threshold, threshold


def _probability(value: Any) -> float | None:
    ok = isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1
    return float(value) if ok else None


@lru_cache(maxsize=32)
def read_card(path: Path) -> Card | None:
    """The decision fields of a model card, read once per path (a released card is fixed)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable model card %s: %s", path, exc)
        return None
    if not isinstance(raw, dict):
        log.warning("ignoring model card %s: not a JSON object", path)
        return None
    threshold = _probability(raw.get("threshold"))
    if "threshold" in raw and threshold is None:
        log.warning("ignoring the threshold of %s: not a number in [0, 1]", path)
    band = raw.get("uncertainty_band")
    low, high = band if isinstance(band, list) and len(band) == 2 else (None, None)
    low, high = _probability(low), _probability(high)
    below = above = 0.0
    if low is not None and high is not None and low <= high:
        centre = threshold if threshold is not None and low <= threshold <= high else None
        if centre is None:  # no threshold inside the band: keep its width, centred
            centre = (low + high) / 2
        below, above = centre - low, high - centre
    points = {}
    for name, point in (raw.get("operating_points") or {}).items():
        value = _probability(point.get("threshold")) if isinstance(point, dict) else None
        if value is not None:
            points[str(name)] = value
    return Card(threshold, below, above, points)
