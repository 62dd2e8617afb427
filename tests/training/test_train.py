"""Training: balanced epoch tables with self-blends, the run folder export reads, warm starts."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training.cropset import CropSet
from training.train import BLEND, FAKE, REAL, TrainConfig, epoch_table, train


def test_epoch_table_balances_classes_and_mixes_blends() -> None:
    labels = np.array([0] * 30 + [1] * 6)
    config = TrainConfig(epoch_size=None, blend_share=0.5)
    table = epoch_table(labels, config, np.random.default_rng(0))
    kinds = table[:, 1]
    assert (kinds == REAL).sum() == (kinds != REAL).sum() == 30  # over-sampled to balance
    assert set(table[kinds == BLEND, 0]) <= set(range(30))  # blends are made from reals
    assert set(table[kinds == FAKE, 0]) <= set(range(30, 36))
    # Half of the fake class is self-blended before over-sampling: 6 labelled + 6 blends.
    assert 0.25 < (kinds == BLEND).mean() / (kinds != REAL).mean() < 0.75
    capped = epoch_table(labels, TrainConfig(epoch_size=20), np.random.default_rng(0))
    assert len(capped) == 20


def test_epoch_table_without_labelled_fakes_uses_blends_only() -> None:
    labels = np.array([0] * 10 + [1] * 5)
    config = TrainConfig(real_fakes=False, epoch_size=None)
    table = epoch_table(labels, config, np.random.default_rng(0))
    assert set(table[:, 1].tolist()) == {REAL, BLEND}
    assert (table[:, 1] == REAL).sum() == 10
    with pytest.raises(ValueError, match="no fakes"):
        TrainConfig(self_blend=False, real_fakes=False).check()


def test_run_directory_holds_what_export_needs(run_dir: Path) -> None:
    run = json.loads((run_dir / "run.json").read_text())
    assert run["config"]["arch"] == "cnn4"
    assert 1 <= run["best_epoch"] <= run["epochs_run"] == 2
    for name in ("model.keras", "train.csv", "validation.csv", "validation.npz", "history.png"):
        assert (run_dir / name).stat().st_size > 0, name


def test_training_can_continue_from_a_saved_model(run_dir: Path, tiny_crops: CropSet) -> None:
    import keras

    saved = keras.models.load_model(run_dir / "model.keras", compile=False)
    kernel = saved.layers[1].get_weights()[0]
    frozen = TrainConfig(
        arch="cnn4",
        arch_options={"width": 4},
        epochs=1,
        batch_size=16,
        epoch_size=32,
        learning_rate=0.0,  # no step: the weights must be the saved ones
        init_from=str(run_dir / "model.keras"),
    )
    result = train(tiny_crops, tiny_crops.select(tiny_crops.item < 2), frozen, verbose=0)
    assert np.array_equal(result.model.layers[1].get_weights()[0], kernel)
    fresh = train(
        tiny_crops,
        tiny_crops.select(tiny_crops.item < 2),
        replace(frozen, init_from=None),
        verbose=0,
    )
    assert not np.array_equal(fresh.model.layers[1].get_weights()[0], kernel)


def test_composed_fake_class_has_the_configured_shares_of_swaps_blends_and_synthetic() -> None:
    labels = np.array([0] * 600 + [1] * 50 + [1] * 400)  # reals, 50 swaps, 400 synthetic
    swap = np.array([False] * 600 + [True] * 50 + [False] * 400)
    config = TrainConfig(swap_share=1 / 3, blend_share=1 / 3, epoch_size=None)
    table = epoch_table(labels, config, np.random.default_rng(0), swap)
    kinds = table[:, 1]
    assert (kinds == REAL).sum() == 600  # as many fakes as reals
    fakes = table[kinds == FAKE, 0]
    assert swap[fakes].sum() == 200  # the small swap pool is drawn with replacement
    assert (~swap[fakes]).sum() == 200
    assert (kinds == BLEND).sum() == 200
    assert (labels[table[kinds == BLEND, 0]] == 0).all()  # blends are made from reals


def test_composed_shares_must_leave_room_for_synthetic_fakes() -> None:
    with pytest.raises(ValueError, match="synthetic"):
        TrainConfig(swap_share=0.5, blend_share=0.5).check()
