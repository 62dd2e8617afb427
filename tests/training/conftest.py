"""One tiny training run and its export, shared by the tests of train, signatures, warm-up,
release, export and evaluate (training and exporting it once keeps tests/training fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.training_data import tiny_cropset
from training.cropset import CropSet
from training.data import Item
from training.release import export_run
from training.train import TrainConfig, save_run, train

TINY = TrainConfig(
    arch="cnn4",
    arch_options={"width": 4},
    epochs=2,
    batch_size=16,
    epoch_size=64,
    patience=2,
    learning_rate=3e-3,
)


@pytest.fixture(scope="session")
def tiny_crops() -> CropSet:
    return tiny_cropset(n_per_class=24, groups=6)


@pytest.fixture(scope="session")
def run_dir(tiny_crops: CropSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) training run saved as python -m training.train saves it."""
    val_items = {0, 1, 6, 7}  # two real and two fake groups
    in_val = np.isin(tiny_crops.item, sorted(val_items))
    result = train(tiny_crops.select(~in_val), tiny_crops.select(in_val), TINY, verbose=0)
    assert result.epochs_run == 2
    assert set(result.history) >= {"loss", "val_loss", "val_auc", "epoch_seconds"}
    items = [
        Item(Path(p), int(label), str(g), str(s))
        for p, label, g, s in zip(
            tiny_crops.paths,
            tiny_crops.item_labels,
            tiny_crops.groups,
            tiny_crops.sources,
            strict=True,
        )
    ]
    root = tmp_path_factory.mktemp("run")
    train_items = [item for i, item in enumerate(items) if i not in val_items]
    val = [item for i, item in enumerate(items) if i in val_items]
    return save_run(root, result, TINY, train_items, val, tiny_crops.select(in_val), Path("/data"))


@pytest.fixture(scope="session")
def exported(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The run exported by training.release as version 7, with its reports beside it."""
    out = tmp_path_factory.mktemp("models") / "deepfake" / "7"
    reports = out.parent / "reports"
    card = export_run(run_dir, out, reports=reports)
    return out, card


@pytest.fixture(scope="session")
def exported_calibrated(
    run_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    """The same run exported as version 8 with Platt scaling fitted on its validation crops,
    forced: the rule would keep this tiny run's raw scores (see test_release)."""
    out = tmp_path_factory.mktemp("models") / "deepfake" / "8"
    card = export_run(run_dir, out, calibration_method="platt")
    return out, card
