"""The decision threshold: THRESHOLD setting, else the model card of the answering version, else
0.5; answers say which one applied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from api.thresholds import ThresholdPolicy, read_card
from tests.conftest import AppFactory


def write_card(model_dir: Path, version: str, card: object) -> None:
    (model_dir / version).mkdir(parents=True, exist_ok=True)
    (model_dir / version / "model_card.json").write_text(json.dumps(card))


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    read_card.cache_clear()


def test_explicit_setting_wins(tmp_path: Path) -> None:
    write_card(tmp_path, "1", {"threshold": 0.3})
    decision = ThresholdPolicy(0.7, tmp_path).decide("1")
    assert (decision.threshold, decision.source) == (0.7, "THRESHOLD setting")


def test_card_of_the_answering_version(tmp_path: Path) -> None:
    write_card(tmp_path, "1", {"threshold": 0.3})
    write_card(tmp_path, "2", {"threshold": 0.62})
    policy = ThresholdPolicy(None, tmp_path)
    assert policy.decide("1").threshold == 0.3
    decision = policy.decide("2")
    assert (decision.threshold, decision.source) == (0.62, "model card v2")


@pytest.mark.parametrize(
    "card",
    [None, {"metrics": {}}, {"threshold": "0.4"}, {"threshold": 1.5}, {"threshold": None}, [1]],
)
def test_missing_or_bad_cards_fall_back_to_the_default(tmp_path: Path, card: object) -> None:
    if card is not None:
        write_card(tmp_path, "1", card)
    decision = ThresholdPolicy(None, tmp_path).decide("1")
    assert (decision.threshold, decision.source) == (0.5, "default")


def test_unparsable_card(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "model_card.json").write_text("{not json")
    assert ThresholdPolicy(None, tmp_path).decide("1").source == "default"


def test_answers_use_and_name_the_card_threshold(
    make_client: AppFactory, model_base: Path, tmp_path: Path, videos: dict[str, Path]
) -> None:
    base = tmp_path / "models"
    shutil.copytree(model_base / "deepfake" / "1", base / "deepfake" / "1")
    write_card(base / "deepfake", "1", {"threshold": 0.01})
    client = make_client(MODEL_BASE_PATH=base)
    body = client.post("/predict", files={"file": ("f.mp4", videos["short"].read_bytes())}).json()
    assert (body["threshold"], body["threshold_source"]) == (0.01, "model card v1")
    assert body["label"] == "fake"  # every crop's red mean is far above 0.01
    body = (
        make_client(MODEL_BASE_PATH=base, THRESHOLD=0.99)
        .post("/predict", files={"file": ("f.mp4", videos["short"].read_bytes())})
        .json()
    )
    assert (body["label"], body["threshold_source"]) == ("real", "THRESHOLD setting")


def test_the_card_band_applies_as_written_and_moves_with_the_threshold(tmp_path: Path) -> None:
    card = {
        "threshold": 0.6,
        "uncertainty_band": [0.4, 0.7],  # reaches 0.2 below and 0.1 above the threshold
        "operating_points": {"fpr1": {"threshold": 0.8}},
    }
    write_card(tmp_path, "1", card)
    policy = ThresholdPolicy(None, tmp_path)
    assert policy.decide("1").band == pytest.approx((0.4, 0.7))
    assert policy.decide("1", "fpr1").band == pytest.approx((0.6, 0.9))
    assert ThresholdPolicy(0.95, tmp_path).decide("1").band == pytest.approx((0.75, 1.0))


def test_no_card_no_band(tmp_path: Path) -> None:
    assert ThresholdPolicy(None, tmp_path).decide("1").band == (0.5, 0.5)
