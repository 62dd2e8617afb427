"""Calibrate P(fake) on validation and fold the calibration into the exported graph.

A network's sigmoid output ranks crops but is rarely a probability: its scores say 0.9 where
six in ten such crops are fake. Two maps from raw score p to calibrated P(fake) are fitted on the
validation crops (whole groups the network never saw), both with scikit-learn:

- Platt: sigmoid(a * logit(clip(p)) + b), a LogisticRegression (C = PLATT_C) on logit(p) with p
  clipped to [LOW, HIGH]; two parameters, smooth, keeps the ranking when a > 0.
- isotonic: IsotonicRegression(out_of_bounds="clip"), a non-decreasing piecewise-linear map
  through its knots (X_thresholds_, y_thresholds_); any monotone shape, one pair per knot.

The rule (RULE, recorded in the model card): cross-fit on validation BY GROUP: StratifiedGroup-
KFold with k = min(FOLDS, groups) folds, every group's crops in exactly one held-out fold, so a
person or source video is never both fitted on and scored. Each method is fitted on k - 1 folds
and predicts the held-out one, which gives every validation crop an out-of-fold score per
method, and each method an out-of-fold ECE (measures.ECE_BINS = 15 equal-width bins). Isotonic
wins only when its ECE is lower than Platt's by more than Z = 2 standard errors of the
difference (a bootstrap over groups, BOOTSTRAP resamples); anything closer is a tie, and a tie
goes to Platt (two parameters instead of two per knot). Binned ECE is noisy enough that on a
sigmoid-shaped miscalibration the plain "lower ECE" picks isotonic about half of the time; the
margin keeps that to a few percent. The winner is then refitted on all validation crops. The
card's "ECE after" is the winner's out-of-fold ECE, not the refit's ECE on its own crops. A
winner whose out-of-fold ECE is not below the raw scores' ECE (nothing fitted: comparable as it
is) is not applied at all: the export stays uncalibrated and the card says why.

In the graph (`calibrated_model`): the network, then one registered Keras layer named
api.contract.OUTPUT_NAME, written with ops the TFLite converter keeps as builtins (clip, log,
sigmoid, comparisons, sum, gather). The isotonic layer finds each score's segment by counting
the interior knots <= it, gathers that segment's ends and interpolates as np.interp does: one
segment's arithmetic per score (no sum of K ramps, whose float32 rounding would grow with the
number of knots), capped at the segment's right end so the float32 map stays monotone.

Calibrated P(fake) is a probability at the validation set's own mix of sources and of real and
fake crops; at another prevalence it is not (the card says which mix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import keras
import numpy as np

from api.contract import INPUT_NAME, OUTPUT_NAME
from training import measures

PLATT = "platt"
ISOTONIC = "isotonic"
NONE = "none"  # the rule's answer when neither calibration beat the raw scores out of fold
METHODS = (PLATT, ISOTONIC)
FOLDS = 5
Z = 2.0  # isotonic must beat Platt's out-of-fold ECE by this many standard errors
BOOTSTRAP = 200  # group resamples for that standard error
# Mild L2 on a: negligible on thousands of crops, but keeps a finite when a small validation set
# happens to be separable (unregularised, a would run off to infinity).
PLATT_C = 1.0
# The clip before the logit, at numbers float32 holds exactly (its spacing below 1 is 2**-24):
# numpy's float64 reference and the float32 graph then clip to the same values (logit +-14.6).
LOW = 2.0**-21
HIGH = 1.0 - 2.0**-21

RULE = (
    f"cross-fit by group on validation (StratifiedGroupKFold, k = min({FOLDS}, groups), no group "
    "in both the fitting and the held-out folds); Platt scaling (LogisticRegression on logit(p)) "
    "and isotonic regression each fitted on k-1 folds and scored on the held-out fold; isotonic "
    f"only when its out-of-fold ECE ({measures.ECE_BINS} equal-width bins) is lower than Platt's "
    f"by more than {Z:g} standard errors of the difference (bootstrap over groups, {BOOTSTRAP} "
    "resamples), Platt otherwise (fewer parameters); the winner refitted on all validation "
    "crops, and applied only if its out-of-fold ECE is below the raw scores' ECE"
)


def as_scores(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scores as float64 [N] of float32 values: the graph sees float32 scores, and fitting on the
    same numbers makes every isotonic knot a number float32 holds exactly."""
    return np.asarray(scores, np.float32).astype(np.float64).reshape(-1)


def platt_feature(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """[N, 1] logit(clip(p, LOW, HIGH)): Platt's one feature."""
    p = np.clip(as_scores(scores), LOW, HIGH)
    feature: np.ndarray = (np.log(p) - np.log1p(-p))[:, None]
    return feature


def platt_estimator(scores: Sequence[float] | np.ndarray, labels: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=PLATT_C).fit(platt_feature(scores), np.asarray(labels).ravel())


def isotonic_estimator(scores: Sequence[float] | np.ndarray, labels: np.ndarray) -> Any:
    from sklearn.isotonic import IsotonicRegression

    regression = IsotonicRegression(out_of_bounds="clip", increasing=True)
    return regression.fit(as_scores(scores), np.asarray(labels, np.float64).ravel())


@dataclass(frozen=True, slots=True)
class Platt:
    a: float
    b: float
    method: ClassVar[str] = PLATT

    @classmethod
    def from_estimator(cls, estimator: Any) -> Platt:
        return cls(float(estimator.coef_[0, 0]), float(estimator.intercept_[0]))

    def predict(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """The float64 reference of what the graph computes."""
        t = self.a * platt_feature(scores)[:, 0] + self.b
        # 1 / (1 + exp(-t)) without overflow for very negative t.
        calibrated: np.ndarray = np.exp(-np.logaddexp(0.0, -t))
        return calibrated

    def parameters(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "clip": [LOW, HIGH]}

    def layer(self) -> keras.layers.Layer:
        return PlattCalibration(self.a, self.b, name=OUTPUT_NAME)


@dataclass(frozen=True, slots=True)
class Isotonic:
    x: tuple[float, ...]  # strictly increasing knots (raw scores)
    y: tuple[float, ...]  # non-decreasing calibrated scores at the knots
    method: ClassVar[str] = ISOTONIC

    @classmethod
    def from_estimator(cls, estimator: Any) -> Isotonic:
        x = tuple(float(v) for v in estimator.X_thresholds_)
        return cls(x, tuple(float(v) for v in estimator.y_thresholds_))

    def predict(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """sklearn's predict (linear between knots, clipped to the end knots), in float64."""
        calibrated: np.ndarray = np.interp(as_scores(scores), self.x, self.y)
        return calibrated

    def parameters(self) -> dict[str, Any]:
        return {"x": list(self.x), "y": list(self.y), "knots": len(self.x)}

    def max_slope(self) -> float:
        """The steepest segment: how much it magnifies a difference in raw scores."""
        if len(self.x) < 2:
            return 0.0
        return float(np.max(np.diff(self.y) / np.diff(self.x)))

    def layer(self) -> keras.layers.Layer:
        return IsotonicCalibration(self.x, self.y, name=OUTPUT_NAME)


Calibration = Platt | Isotonic


def fit_platt(scores: Sequence[float] | np.ndarray, labels: np.ndarray) -> Platt:
    return Platt.from_estimator(platt_estimator(scores, labels))


def fit_isotonic(scores: Sequence[float] | np.ndarray, labels: np.ndarray) -> Isotonic:
    return Isotonic.from_estimator(isotonic_estimator(scores, labels))


FITS: dict[str, Callable[[np.ndarray, np.ndarray], Calibration]] = {
    PLATT: fit_platt,
    ISOTONIC: fit_isotonic,
}


def group_folds(
    labels: np.ndarray, groups: np.ndarray, folds: int = FOLDS, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit, held-out) crop indices of k = min(folds, groups) folds; a group's crops are all in
    one held-out fold, and each fold's class mix is kept close to the whole set's."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.asarray(labels).ravel()
    k = min(folds, len(np.unique(groups)))
    if k < 2:
        raise ValueError("cross-fitting by group needs at least two validation groups")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(labels)), labels, groups))
    for fit, _ in splits:
        if len(np.unique(labels[fit])) < 2:
            raise ValueError(
                "a fitting fold lacks real or fake crops: too few validation groups of one "
                "class to cross-fit the calibration"
            )
    return splits


def out_of_fold(
    method: str,
    scores: np.ndarray,
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Every crop's calibrated score from the `method` fitted on the folds it is not in."""
    predicted = np.full(len(scores), np.nan)
    for fit, held_out in splits:
        predicted[held_out] = FITS[method](scores[fit], labels[fit]).predict(scores[held_out])
    return predicted


def ece_difference_se(
    labels: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    groups: np.ndarray,
    *,
    bins: int = measures.ECE_BINS,
    rounds: int = BOOTSTRAP,
    seed: int = 0,
) -> float:
    """Standard error of ECE(first) - ECE(second) on the same crops, by resampling whole
    groups (crops of one group are not independent draws)."""
    _, member = np.unique(groups, return_inverse=True)
    crops_of = [np.flatnonzero(member == g) for g in range(member.max() + 1)]
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(rounds):
        drawn = np.concatenate([crops_of[g] for g in rng.integers(0, len(crops_of), len(crops_of))])
        y = labels[drawn]
        differences.append(
            measures.expected_calibration_error(y, first[drawn], bins)
            - measures.expected_calibration_error(y, second[drawn], bins)
        )
    return float(np.std(differences, ddof=1))


@dataclass(frozen=True)
class Choice:
    """The rule's outcome: both methods refitted on all validation crops, and the winner."""

    method: str
    candidates: dict[str, Calibration]
    ece_before: float  # the raw scores' ECE on validation: nothing was fitted to them
    out_of_fold_ece: dict[str, float]
    difference_se: float  # of out-of-fold ECE Platt - isotonic
    folds: int
    bins: int
    n_crops: int
    n_groups: int
    fake_share: float
    note: str | None = None

    @property
    def calibration(self) -> Calibration | None:
        """The map the export applies; None: export the raw scores."""
        return self.candidates.get(self.method)

    def instead(self, method: str, note: str) -> Choice:
        """The same fits with `method` applied instead (NONE: the raw scores), and why."""
        if method != NONE and method not in self.candidates:
            raise ValueError(f"unknown calibration method {method!r}")
        return replace(self, method=method, note=note)

    def without_isotonic(self, reason: str) -> Choice:
        """Platt where it beat the raw scores out of fold, else the raw scores; the note gives
        `reason` and which it was."""
        if self.out_of_fold_ece[PLATT] < self.ece_before:
            return self.instead(PLATT, f"{reason}; Platt exported instead")
        return self.instead(NONE, f"{reason}; raw scores exported (Platt did not beat them)")

    def card_entry(self) -> dict[str, Any]:
        """The model card's "calibration": what was chosen, by which rule, measured how."""
        calibration = self.calibration
        entry: dict[str, Any] = {
            "method": self.method,
            "parameters": None if calibration is None else calibration.parameters(),
            "rule": RULE,
            "bins": self.bins,
            "ece_before": self.ece_before,
            "ece_after": self.out_of_fold_ece.get(self.method, self.ece_before),
            "ece_method": "before: the network's raw scores on all validation crops; after: "
            "out-of-fold calibrated scores (each crop scored by a fit that never saw its group)",
            "out_of_fold_ece": self.out_of_fold_ece,
            "ece_difference_se": self.difference_se,
            "folds": self.folds,
            "fitted_on": {
                "crops": self.n_crops,
                "groups": self.n_groups,
                "fake_share": self.fake_share,
            },
        }
        if calibration is None:
            entry["note"] = self.note or (
                f"{OUTPUT_NAME} is the raw network score: no calibration lowered the "
                "out-of-fold ECE below the raw scores' ECE"
            )
            return entry
        entry["meaning"] = (
            f"P(fake) at the validation mix of sources and of real and fake crops "
            f"({self.fake_share:.0%} fake); at another prevalence the scores are not calibrated"
        )
        entry["in_graph"] = (
            f"layer {OUTPUT_NAME!r} after the network, in serving_default, the compact "
            "signatures and model.tflite alike"
        )
        if self.note:
            entry["note"] = self.note
        return entry


def choose(
    scores: Sequence[float] | np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    folds: int = FOLDS,
    bins: int = measures.ECE_BINS,
    seed: int = 0,
) -> Choice:
    """The rule of the module docstring on validation scores, labels (1 = fake) and groups."""
    s = as_scores(scores)
    y = np.asarray(labels, np.int64).ravel()
    groups = np.asarray(groups).ravel()
    splits = group_folds(y, groups, folds, seed)
    predicted = {m: out_of_fold(m, s, y, splits) for m in METHODS}
    ece = {m: measures.expected_calibration_error(y, predicted[m], bins) for m in METHODS}
    se = ece_difference_se(y, predicted[PLATT], predicted[ISOTONIC], groups, bins=bins, seed=seed)
    winner = ISOTONIC if ece[PLATT] - ece[ISOTONIC] > Z * se else PLATT
    before = measures.expected_calibration_error(y, s, bins)
    return Choice(
        method=winner if ece[winner] < before else NONE,
        candidates={m: FITS[m](s, y) for m in METHODS},
        ece_before=before,
        out_of_fold_ece=ece,
        difference_se=se,
        folds=len(splits),
        bins=bins,
        n_crops=len(s),
        n_groups=len(np.unique(groups)),
        fake_share=float(y.mean()),
    )


@keras.saving.register_keras_serializable(package="deepfake")
class PlattCalibration(keras.layers.Layer):  # type: ignore[misc]
    """sigmoid(a * logit(clip(p, LOW, HIGH)) + b), elementwise."""

    def __init__(self, a: float, b: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = float(a)
        self.b = float(b)

    def call(self, p: Any) -> Any:
        ops = keras.ops
        p = ops.clip(p, LOW, HIGH)
        # 1 - p is exact in float32 for p >= 0.5, where the logit needs it most.
        logit = ops.log(p) - ops.log(1.0 - p)
        return ops.sigmoid(self.a * logit + self.b)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        return {**config, "a": self.a, "b": self.b}


@keras.saving.register_keras_serializable(package="deepfake")
class IsotonicCalibration(keras.layers.Layer):  # type: ignore[misc]
    """np.interp(p, x, y) elementwise: linear between knots, clipped to the end knots."""

    def __init__(self, x: Sequence[float], y: Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if len(x) != len(y) or not len(x):
            raise ValueError("isotonic calibration needs as many y as x knots, at least one")
        # Tuples, not lists: Keras would wrap a list attribute in a tracked container.
        self.x = tuple(float(v) for v in x)
        self.y = tuple(float(v) for v in y)
        knots_x = np.asarray(self.x, np.float32)
        knots_y = np.asarray(self.y, np.float32)
        if len(knots_x) > 1 and not (np.diff(knots_x) > 0).all():
            raise ValueError("isotonic knots must be strictly increasing in float32")
        if (np.diff(knots_y) < 0).any():
            raise ValueError("isotonic values must be non-decreasing")
        self._knots = (knots_x, knots_y)

    def call(self, p: Any) -> Any:
        ops = keras.ops
        knots_x, knots_y = self._knots
        if len(knots_x) == 1:  # sklearn's single-knot fit: one value for every score
            return ops.zeros_like(p) + float(knots_y[0])
        x = ops.clip(p, float(knots_x[0]), float(knots_x[-1]))
        segment = self._segment(x)

        def at(values: np.ndarray) -> Any:
            return ops.take(ops.convert_to_tensor(values), segment)

        left_x, width = at(knots_x[:-1]), at(np.diff(knots_x))
        left_y, rise, right_y = at(knots_y[:-1]), at(np.diff(knots_y)), at(knots_y[1:])
        # The cap makes float32 rounding unable to overshoot the next knot: monotone throughout.
        return ops.minimum(left_y + rise * ((x - left_x) / width), right_y)

    def _segment(self, x: Any) -> Any:
        """Per score, the index j of its segment [x_j, x_j+1): how many interior knots <= it."""
        ops = keras.ops
        interior = self._knots[0][1:-1]
        if not len(interior):
            return ops.zeros_like(x, dtype="int32")
        above = ops.greater_equal(ops.expand_dims(x, -1), ops.convert_to_tensor(interior))
        return ops.sum(ops.cast(above, "int32"), axis=-1)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        return {**config, "x": list(self.x), "y": list(self.y)}


def calibrated_model(model: Any, calibration: Calibration) -> keras.Model:
    """`model` (one image input, one [-1, 1] P(fake) output) followed by `calibration`: the same
    input, output named OUTPUT_NAME, ready for training.saved_model.export_saved_model."""
    inputs = keras.Input(tuple(model.inputs[0].shape[1:]), name=INPUT_NAME, dtype="float32")
    # training=False: the wrapped model serves only; its dropout and batch norm stay in inference.
    outputs = calibration.layer()(model(inputs, training=False))
    return keras.Model(inputs, outputs, name=f"{model.name}_calibrated")
