"""Exported SavedModels honour the contract: float32 [-1, S, S, 3] in [0, 1] -> [-1, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.contract import DEFAULT_CROP_SIZE, INPUT_NAME, OUTPUT_NAME
from settings import PROJECT_ROOT
from tests.support.models import assert_serving_contract, load_serving_default
from training.saved_model import version_of

SHIPPED = PROJECT_ROOT / "models" / "deepfake" / "1"


def test_the_shipped_model_honours_the_contract() -> None:
    signature = load_serving_default(SHIPPED)
    assert_serving_contract(signature)
    shape = (3, DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3)
    batch = np.random.default_rng(0).random(shape, dtype=np.float32)
    scores = signature(**{INPUT_NAME: batch})[OUTPUT_NAME].numpy()
    assert scores.shape == (3, 1)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_a_version_folder_is_numbered_as_tf_serving_reads_it() -> None:
    assert version_of(Path("models/deepfake/12")) == 12
    with pytest.raises(ValueError, match="numeric version folder"):
        version_of(Path("models/deepfake/latest"))
