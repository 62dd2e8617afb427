"""The networks take the contract's crops and answer one P(fake) through a sigmoid."""

from __future__ import annotations

from api.contract import DEFAULT_CROP_SIZE, OUTPUT_NAME


def test_efficientnet_b0_keeps_the_contract() -> None:
    from training.architectures import efficientnet_b0

    model = efficientnet_b0(seed=0)
    assert model.input_shape == (None, DEFAULT_CROP_SIZE, DEFAULT_CROP_SIZE, 3)
    assert model.output_shape == (None, 1)
    assert model.get_layer(OUTPUT_NAME).activation.__name__ == "sigmoid"
