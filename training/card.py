"""Write and read the model card (CARD_FILE in `<base>/<name>/<version>/`, by saved_model.pb).

The gateway reads `threshold` (when THRESHOLD is not set), `operating_points` and
`uncertainty_band`, with its own tolerant reader (api.thresholds.read_card: decision fields
only); everything else is for people: what the model was trained on, how it was validated, what
its numbers do and do not mean. This module writes the whole card and reads it back whole.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.contract import CARD_FILE, DEFAULT_CROP_SIZE, DEFAULT_SIGNATURE, INPUT_NAME, OUTPUT_NAME

REQUIRED = ("threshold", "threshold_method", "operating_points", "uncertainty_band")


def input_contract(size: int = DEFAULT_CROP_SIZE) -> dict[str, Any]:
    """What the card says the model takes, for a model of `size` x `size` crops."""
    return {
        DEFAULT_SIGNATURE: {
            "inputs": {INPUT_NAME: f"float32 [-1, {size}, {size}, 3], RGB, pixel / 255 in [0, 1]"},
            "outputs": {OUTPUT_NAME: "float32 [-1, 1], P(fake) per crop"},
        },
        "crops": (
            "the largest Haar face of a frame (OpenCV haarcascade_frontalface_default, detection "
            "on a copy whose longer side is at most 640 px, minNeighbors 5, minSize 30), grown by "
            f"a 0.2 margin about its centre, clipped to the frame, resized to {size}x{size} "
            "(INTER_AREA when shrinking): api.pipeline.faces"
        ),
        "video_score": "mean of the frame scores; 'fake' when score >= threshold",
    }


INPUT_CONTRACT = input_contract()

INTENDED_USE = (
    "Research reference model for the gateway: exercises the serving path end to end and gives a "
    "weak, documented signal on face crops. Not for decisions about people, content moderation "
    "or any claim that a video is authentic or manipulated."
)


# The limitation of training.sources that calibration answers, by its opening words.
UNCALIBRATED = "Scores are not calibrated probabilities"
CALIBRATED_LIMITATION = (
    "Scores are calibrated on validation (see calibration): a probability at the validation "
    "set's mix of sources and of real and fake crops, not at another prevalence or on other "
    "sources; use the thresholds in this card and treat scores inside the uncertainty band as "
    "'unsure'."
)


def limitations(base: list[str], calibrated: bool) -> list[str]:
    """`base` with its "not calibrated" entry replaced by what a calibrated model's scores mean."""
    if not calibrated:
        return list(base)
    kept = [entry for entry in base if not entry.startswith(UNCALIBRATED)]
    return [*kept, CALIBRATED_LIMITATION]


def uncalibrated_entry(ece: float, bins: int) -> dict[str, Any]:
    """The card's "calibration" of a model exported without one: how far off its scores were."""
    return {
        "method": "none",
        "note": "scores are the network's sigmoid output",
        "ece": ece,
        "bins": bins,
        "ece_method": f"on all validation crops, {bins} equal-width bins",
    }


def code_version(repo: Path | None = None) -> dict[str, Any]:
    """The git commit of the code that trained and exported the model, and whether the
    working tree had uncommitted changes to the code under training/."""
    cwd = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "training/*.py"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def write_card(model_dir: Path, card: dict[str, Any]) -> Path:
    """`card` as the version's CARD_FILE; refuses a card without the fields the gateway reads."""
    missing = [key for key in REQUIRED if key not in card]
    if missing:
        raise ValueError(f"model card lacks {missing}")
    path = model_dir / CARD_FILE
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_card(model_dir: Path) -> dict[str, Any]:
    """The whole card of a version, as written (strict: a missing or broken card raises)."""
    card: dict[str, Any] = json.loads((model_dir / CARD_FILE).read_text(encoding="utf-8"))
    return card


def placeholder_card(name: str, version: int, architecture: str, signatures: Any) -> dict[str, Any]:
    """The card of an untrained export: honest that nothing was learned."""
    return {
        "name": name,
        "version": version,
        "created": today(),
        "trained": False,
        "architecture": {"name": architecture},
        "input": INPUT_CONTRACT,
        "signatures": signatures,
        "threshold": 0.5,
        "threshold_method": "none: untrained placeholder (scores are ~0.5 for every input)",
        "operating_points": {},
        "uncertainty_band": [0.0, 1.0],
        "intended_use": "Placeholder to exercise the serving path; it has learned nothing.",
        "code_version": code_version(),
    }
