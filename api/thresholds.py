"""Which decision threshold applies, and where it came from.

An explicit THRESHOLD setting wins; otherwise the threshold chosen on validation and written in
the model card of the version that answered (`<MODEL_BASE_PATH>/<name>/<version>/model_card.json`,
key "threshold"); otherwise 0.5, the original service's default. Every answer says which.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
CARD_FILE = "model_card.json"


@dataclass(frozen=True, slots=True)
class Decision:
    threshold: float
    source: str  # "THRESHOLD setting", "model card v1" or "default"


class ThresholdPolicy:
    def __init__(self, explicit: float | None, model_dir: Path) -> None:
        self.explicit = explicit
        self.model_dir = model_dir  # <MODEL_BASE_PATH>/<MODEL_NAME>

    def decide(self, version: str) -> Decision:
        if self.explicit is not None:
            return Decision(self.explicit, "THRESHOLD setting")
        card = read_card_threshold(self.model_dir / version / CARD_FILE)
        if card is not None:
            return Decision(card, f"model card v{version}")
        return Decision(DEFAULT_THRESHOLD, "default")


@lru_cache(maxsize=32)
def read_card_threshold(path: Path) -> float | None:
    """The card's threshold, read once per path (cards of a released version do not change)."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable model card %s: %s", path, exc)
        return None
    value = card.get("threshold") if isinstance(card, dict) else None
    if not isinstance(value, int | float) or not math.isfinite(value) or not 0 <= value <= 1:
        log.warning("ignoring model card %s: 'threshold' is not a number in [0, 1]", path)
        return None
    return float(value)
