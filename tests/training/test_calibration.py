"""Calibration: the ECE, the group cross-fitting, the Platt-or-isotonic rule, and the in-graph
layers against scikit-learn, in Keras, in a .keras file, in the SavedModel and in LiteRT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from api.backends.runtimes import litert_runner
from api.contract import (
    DEFAULT_CROP_SIZE,
    DEFAULT_SIGNATURE,
    INPUT_NAME,
    OUTPUT_NAME,
    TFLITE_FILE,
    to_model_input,
)
from training import calibration, measures
from training.saved_model import export_saved_model
from training.signatures import run_signature

S = DEFAULT_CROP_SIZE


def sigmoid(t: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-t))
    return out


def logit(p: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.log(p) - np.log1p(-p)
    return out


def synthetic(kind: str, n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Any]:
    """(scores, labels, groups of 50 crops): labels drawn with P(fake | score) of `kind`."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    truth = {
        "calibrated": scores,
        "sigmoid": sigmoid(0.5 * logit(scores) + 0.4),  # what Platt can express exactly
        "step": np.where(scores < 0.5, 0.25, 0.75),  # flat plateaus: no sigmoid of logit(p)
        "overconfident": np.where(scores < 0.5, 0.4, 0.6),
    }[kind]
    labels = (rng.random(n) < truth).astype(np.int64)
    return scores, labels, np.arange(n) // 50


def pixel_scores(count: int = 2000, seed: int = 0) -> np.ndarray:
    """Scores that are exactly k / 255 in float32, as `pixel_network` gives them."""
    k = np.random.default_rng(seed).integers(0, 256, count)
    scores: np.ndarray = k.astype(np.float32) / np.float32(255.0)
    return scores


def fitted(method: str) -> tuple[calibration.Calibration, Any]:
    """A calibration and the scikit-learn estimator it came from, fitted on pixel scores whose
    labels follow a step (isotonic's case) or a sigmoid (Platt's)."""
    scores = pixel_scores().astype(np.float64)
    rng = np.random.default_rng(1)
    if method == calibration.ISOTONIC:
        labels = (rng.random(len(scores)) < np.where(scores < 0.5, 0.2, 0.8)).astype(np.int64)
        estimator = calibration.isotonic_estimator(scores, labels)
        return calibration.Isotonic.from_estimator(estimator), estimator
    clipped = np.clip(scores, 0.01, 0.99)
    labels = (rng.random(len(scores)) < sigmoid(0.6 * logit(clipped) - 0.3)).astype(np.int64)
    estimator = calibration.platt_estimator(scores, labels)
    return calibration.Platt.from_estimator(estimator), estimator


def sklearn_predict(estimator: Any, scores: np.ndarray) -> np.ndarray:
    if hasattr(estimator, "predict_proba"):  # Platt: logistic regression on logit(clip(p))
        out: np.ndarray = estimator.predict_proba(calibration.platt_feature(scores))[:, 1]
        return out
    out = estimator.predict(np.asarray(scores, np.float64))
    return out


def grid(fit: calibration.Calibration) -> np.ndarray:
    """float32 scores: a fine grid of [0, 1] with 0 and 1, every k / 255, and the knots."""
    knots = np.asarray(fit.x if isinstance(fit, calibration.Isotonic) else [], np.float32)
    points = [np.linspace(0, 1, 20001, dtype=np.float32), pixel_scores(256), knots]
    points.append(np.array([0.0, 1.0, calibration.LOW, calibration.HIGH], np.float32))
    return np.unique(np.concatenate(points)).astype(np.float32)


def pixel_network() -> keras.Model:
    """A "network" whose P(fake) is the crop's top-left red pixel / 255: the same float32 number
    in Keras, the SavedModel and LiteRT, so any difference measured is the calibration's."""
    inputs = keras.Input((S, S, 3), name=INPUT_NAME)
    x = keras.layers.Cropping2D(((0, S - 1), (0, S - 1)))(inputs)
    x = keras.layers.Flatten()(x)
    pick_red = keras.initializers.Constant([[1.0], [0.0], [0.0]])
    outputs = keras.layers.Dense(1, use_bias=False, kernel_initializer=pick_red, name=OUTPUT_NAME)(
        x
    )
    return keras.Model(inputs, outputs, name="pixel")


def pixel_crops() -> np.ndarray:
    """Crops whose top-left red values are 0..255: every score the pixel network can give."""
    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, (256, S, S, 3), dtype=np.uint8)
    crops[:, 0, 0, 0] = np.arange(256, dtype=np.uint8)
    return crops


# ECE


def test_ece_by_hand() -> None:
    # Bin [1/15, 2/15): two reals at 0.1 -> |0 - 0.1|; [13/15, 14/15): two fakes at 0.9 -> 0.1.
    assert measures.expected_calibration_error([0, 0, 1, 1], [0.1, 0.1, 0.9, 0.9]) == (
        pytest.approx(0.1)
    )
    # 1.0 falls in the last bin with 0.95: share 1, mean 0.975.
    assert measures.expected_calibration_error([1, 1], [1.0, 0.95]) == pytest.approx(0.025)
    assert measures.expected_calibration_error([1, 0], [0.5, 0.5], bins=1) == 0.0
    assert np.isnan(measures.expected_calibration_error([], []))
    bins = measures.calibration_bins([0, 0, 1, 1], [0.1, 0.1, 0.9, 0.9])
    assert len(bins) == measures.ECE_BINS == 15
    assert sum(b["n"] for b in bins) == 4
    assert (bins[13]["n"], bins[13]["fake_share"], bins[-1]["n"]) == (2, 1.0, 0)


def test_ece_is_near_zero_when_calibrated_and_large_when_not() -> None:
    scores, labels, _ = synthetic("calibrated", n=200_000)
    assert measures.expected_calibration_error(labels, scores) < 0.005
    _, labels, _ = synthetic("overconfident", n=200_000)
    overconfident = np.where(scores < 0.5, 0.02, 0.98)  # says 2% / 98% where it is 40% / 60%
    assert measures.expected_calibration_error(labels, overconfident) > 0.35


# Cross-fitting and the rule


def test_cross_fitting_never_puts_a_group_on_both_sides() -> None:
    rng = np.random.default_rng(3)
    groups = np.repeat([f"g{i}" for i in range(23)], rng.integers(1, 40, 23))
    labels = (np.char.str_len(groups.astype(str)) % 2).astype(np.int64)  # by group, both kinds
    splits = calibration.group_folds(labels, groups, seed=4)
    assert len(splits) == calibration.FOLDS
    held_out = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(held_out), np.arange(len(groups)))  # each crop held out once
    for fit, test in splits:
        assert not set(groups[fit]) & set(groups[test])
        assert set(labels[fit]) == {0, 1}


def test_cross_fitting_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="two validation groups"):
        calibration.group_folds(np.array([0, 1, 0, 1]), np.array(["a"] * 4))


def test_the_rule_picks_isotonic_on_a_step_and_platt_on_a_sigmoid() -> None:
    step = calibration.choose(*synthetic("step"))
    assert step.method == calibration.ISOTONIC
    assert step.out_of_fold_ece[calibration.ISOTONIC] < step.out_of_fold_ece[calibration.PLATT]
    sigmoid_shaped = calibration.choose(*synthetic("sigmoid"))
    assert sigmoid_shaped.method == calibration.PLATT
    platt = sigmoid_shaped.calibration
    assert isinstance(platt, calibration.Platt)
    assert platt.a == pytest.approx(0.5, abs=0.1)
    assert platt.b == pytest.approx(0.4, abs=0.15)
    # Calibrating helps out of fold, and the card says so.
    entry = step.card_entry()
    assert entry["ece_after"] < entry["ece_before"]
    assert (entry["method"], entry["bins"], entry["folds"]) == ("isotonic", 15, 5)
    assert entry["parameters"]["knots"] == len(entry["parameters"]["x"])
    assert "by group" in entry["rule"]


def test_a_difference_within_the_noise_is_a_tie_and_goes_to_platt() -> None:
    # Four groups: far too few to tell a step from a sigmoid with any confidence.
    choice = calibration.choose(*synthetic("step", n=200))
    assert choice.method == calibration.PLATT


def test_a_calibration_that_is_worse_out_of_fold_is_not_applied() -> None:
    # Raw scores of 0.5 on a balanced set: ECE 0. Each fold's fit sees the other groups' class
    # mix and is wrong about the held-out group: worse than the raw scores, so none is applied.
    labels = np.repeat([0, 1, 0, 1], 4)
    choice = calibration.choose(np.full(16, 0.5), labels, np.repeat(["a", "b", "c", "d"], 4))
    assert choice.method == calibration.NONE
    assert choice.calibration is None
    entry = choice.card_entry()
    assert entry["parameters"] is None
    assert entry["ece_after"] == entry["ece_before"] == 0.0
    assert "raw network score" in entry["note"]
    assert choice.instead(calibration.PLATT, "asked for").calibration == choice.candidates["platt"]


# The layers against scikit-learn


@pytest.mark.parametrize("method", calibration.METHODS)
def test_the_layer_is_sklearns_predict(method: str) -> None:
    fit, estimator = fitted(method)
    x = grid(fit)
    expected = sklearn_predict(estimator, x)
    layer_out = np.asarray(fit.layer()(x[:, None]))[:, 0]
    assert layer_out.dtype == np.float32
    assert np.abs(layer_out - expected).max() < 1e-6
    assert np.abs(fit.predict(x) - expected).max() < 1e-12  # the numpy reference too
    assert (np.diff(layer_out) >= 0).all()  # monotone in float32, knots included


def test_isotonic_edge_cases() -> None:
    single = calibration.Isotonic((0.3,), (0.6,))
    assert np.asarray(single.layer()(np.array([[0.0], [0.3], [1.0]], np.float32))).ravel() == (
        pytest.approx([0.6, 0.6, 0.6])
    )
    two = calibration.Isotonic((0.25, 0.75), (0.1, 0.9))
    out = np.asarray(two.layer()(np.array([[0.0], [0.5], [1.0]], np.float32))).ravel()
    assert out == pytest.approx([0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="increasing"):
        calibration.Isotonic((0.5, 0.5), (0.1, 0.2)).layer()


# Through .keras, the SavedModel and LiteRT


@pytest.mark.parametrize("method", calibration.METHODS)
def test_a_calibrated_model_loads_back_from_keras_file(method: str, tmp_path: Path) -> None:
    fit, _ = fitted(method)
    model = calibration.calibrated_model(pixel_network(), fit)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)
    batch = to_model_input(pixel_crops())
    assert loaded.layers[-1].name == OUTPUT_NAME
    assert np.array_equal(np.asarray(loaded(batch)), np.asarray(model(batch)))


@pytest.fixture(scope="module", params=calibration.METHODS)
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(calibration, estimator, version folder) of the pixel network calibrated and exported."""
    fit, estimator = fitted(request.param)
    out = tmp_path_factory.mktemp(request.param) / "1"
    export_saved_model(calibration.calibrated_model(pixel_network(), fit), out, model_name="cal")
    return fit, estimator, out


def test_calibration_round_trips_through_savedmodel_and_tflite(exported: Any) -> None:
    import tensorflow as tf

    fit, estimator, out = exported
    crops = pixel_crops()
    expected = sklearn_predict(estimator, crops[:, 0, 0, 0].astype(np.float32) / np.float32(255))
    served = run_signature(tf.saved_model.load(str(out)), DEFAULT_SIGNATURE, to_model_input(crops))
    lite = litert_runner(out / TFLITE_FILE, threads=1)(crops).reshape(-1)
    differences = {
        "savedmodel": float(np.abs(served - expected).max()),
        "tflite": float(np.abs(lite - expected).max()),
    }
    print(f"{fit.method}: max |diff| vs sklearn {differences}")
    assert differences["savedmodel"] < 1e-5
    assert differences["tflite"] < 1e-5
