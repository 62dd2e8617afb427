"""Train on a tiny dataset, export, and check what TF Serving and the gateway will rely on:
every signature gives serving_default's scores, the warm-up file holds PredictionLog records,
the model card carries the threshold and operating points, evaluation runs end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.contract import TFLITE_FILE, to_model_input
from tests.support.training_data import tiny_cropset, write_media_folder
from training import evaluate as evaluate_cli
from training.card import CARD_FILE, read_card
from training.cropset import CropSet
from training.data import Item
from training.export import (
    ENCODED_INPUT,
    ENCODED_SIGNATURE,
    OUTPUT_NAME,
    TOLERANCE,
    UINT8_SIGNATURE,
    WARMUP_BATCH_SIZES,
    encode,
    read_warmup,
    run_signature,
    signature_differences,
)
from training.release import export_run
from training.train import BLEND, FAKE, REAL, TrainConfig, epoch_table, save_run, train

TINY = TrainConfig(
    arch="cnn4",
    arch_options={"width": 4},
    epochs=2,
    batch_size=16,
    epoch_size=64,
    patience=2,
    learning_rate=3e-3,
)


@pytest.fixture(scope="module")
def crops() -> CropSet:
    return tiny_cropset(n_per_class=24, groups=6)


@pytest.fixture(scope="module")
def run_dir(crops: CropSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) training run saved as python -m training.train saves it."""
    val_items = {0, 1, 6, 7}  # two real and two fake groups
    in_val = np.isin(crops.item, sorted(val_items))
    result = train(crops.select(~in_val), crops.select(in_val), TINY, verbose=0)
    assert result.epochs_run == 2
    assert set(result.history) >= {"loss", "val_loss", "val_auc", "epoch_seconds"}
    items = [
        Item(Path(p), int(label), str(g), str(s))
        for p, label, g, s in zip(
            crops.paths, crops.item_labels, crops.groups, crops.sources, strict=True
        )
    ]
    root = tmp_path_factory.mktemp("run")
    train_items = [item for i, item in enumerate(items) if i not in val_items]
    val = [item for i, item in enumerate(items) if i in val_items]
    return save_run(root, result, TINY, train_items, val, crops.select(in_val), Path("/data"))


@pytest.fixture(scope="module")
def exported(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("models") / "deepfake" / "7"
    reports = out.parent / "reports"
    card = export_run(run_dir, out, reports=reports)
    return out, card


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


def test_every_signature_gives_the_default_scores(
    exported: tuple[Path, Any], crops: CropSet
) -> None:
    import tensorflow as tf

    out, _ = exported
    loaded = tf.saved_model.load(str(out))
    reference = run_signature(loaded, "serving_default", to_model_input(crops.crops))
    assert reference.std() > 1e-4  # a trained model: scores differ between crops
    uint8 = run_signature(loaded, UINT8_SIGNATURE, crops.crops)
    assert np.abs(uint8 - reference).max() <= TOLERANCE[UINT8_SIGNATURE]
    png = run_signature(loaded, ENCODED_SIGNATURE, np.array(encode(crops.crops), dtype=object))
    assert np.abs(png - reference).max() <= TOLERANCE[f"{ENCODED_SIGNATURE}/png"]
    differences = signature_differences(loaded, crops.crops, out / TFLITE_FILE)
    assert all(differences[k] <= tolerance for k, tolerance in TOLERANCE.items())
    assert differences["jpeg_q95_vs_raw_pixels"] < 0.2  # lossy, but not another model


def test_the_encoded_signature_rejects_wrong_sized_crops(exported: tuple[Path, Any]) -> None:
    import tensorflow as tf

    out, _ = exported
    signature = tf.saved_model.load(str(out)).signatures[ENCODED_SIGNATURE]
    big = encode(np.zeros((1, 80, 80, 3), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError):
        signature(**{ENCODED_INPUT: tf.constant(big)})


def test_warmup_file_holds_prediction_logs_for_every_signature(
    exported: tuple[Path, Any],
) -> None:
    import tensorflow as tf

    out, _ = exported
    records = read_warmup(out)
    assert 0 < len(records) <= 1000  # TF Serving reads at most 1000
    seen = set()
    loaded = tf.saved_model.load(str(out))
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.name == "deepfake"
        seen.add((request.model_spec.signature_name, tuple(request.inputs)))
        # Every request runs as it is against its signature and gives one score per row.
        (key,) = request.inputs
        tensor = tf.make_ndarray(request.inputs[key])
        outputs = loaded.signatures[request.model_spec.signature_name](**{key: tensor})
        assert outputs[OUTPUT_NAME].shape[0] in WARMUP_BATCH_SIZES
    assert seen == {
        ("serving_default", ("image",)),
        (UINT8_SIGNATURE, ("image",)),
        (ENCODED_SIGNATURE, (ENCODED_INPUT,)),
    }


def test_model_card(exported: tuple[Path, Any]) -> None:
    out, card = exported
    assert read_card(out) == json.loads(json.dumps(card))
    assert 0.0 <= card["threshold"] <= 1.0
    assert "Youden" in card["threshold_method"]
    assert set(card["operating_points"]) == {"fpr1", "fpr5", "fpr10", "balanced"}
    for point in card["operating_points"].values():
        assert set(point) == {"threshold", "fpr", "tpr"}
    assert card["operating_points"]["balanced"]["threshold"] == card["threshold"]
    low, high = card["uncertainty_band"]
    assert low <= card["threshold"] <= high
    assert card["validation"]["frame"]["n"] == 16
    assert card["validation"]["video"]["n"] == 4  # the four validation items are .mp4 paths
    assert card["validation"]["frame"]["auc"] is not None
    assert card["signatures"][UINT8_SIGNATURE]["tolerance"][UINT8_SIGNATURE] == 1e-5
    assert card["code_version"]["commit"]
    assert card["architecture"]["name"] == "cnn4"


def test_reports_are_written(exported: tuple[Path, Any]) -> None:
    out, card = exported
    reports = out.parent / "reports"
    for name in ("history.png", "confusion_frame.png", "confusion_video.png", "roc.png"):
        assert (reports / name).read_bytes()[:4] == b"\x89PNG", name
    report = json.loads((reports / "validation_report.json").read_text())
    assert report["frame"]["confusion"] == card["validation"]["frame"]["confusion"]


def test_evaluate_cli_on_a_media_folder(
    exported: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, card = exported
    data = write_media_folder(tmp_path / "media")
    report_path = tmp_path / "report.json"
    evaluate_cli.main(["--model", str(out), "--data", str(data), "--out", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["threshold"] == card["threshold"]
    assert report["threshold_from"].endswith(CARD_FILE)
    assert report["items"] == 4
    assert report["videos"] == 2
    assert report["video"]["n"] == 2  # one real and one fake clip, 2 s at 2 fps each
    assert report["frame"]["n"] + len(report["items_without_faces"]) >= 4
    assert set(report["per_source"]) == {"media"}
    printed = capsys.readouterr().out
    assert "frame" in printed
    assert "AUC" in printed
    # The PNG signature scores the same crops the same way.
    png_path = tmp_path / "png.json"
    args = ["--model", str(out), "--data", str(data), "--out", str(png_path)]
    evaluate_cli.main([*args, "--signature", "serving_encoded"])
    png = json.loads(png_path.read_text())
    assert png["frame"]["confusion"] == report["frame"]["confusion"]
    assert png["frame"]["auc"] == pytest.approx(report["frame"]["auc"], abs=1e-6)


def test_export_cli_from_a_run_merges_extra_notes(run_dir: Path, tmp_path: Path) -> None:
    from training.export import main as export_main

    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"architecture_choice": {"shipped": "cnn4"}}))
    out = tmp_path / "deepfake" / "2"
    export_main(["--run", str(run_dir), "--out", str(out), "--extra", str(extra)])
    card = read_card(out)
    assert card["architecture_choice"] == {"shipped": "cnn4"}
    assert card["validation"]["crops"] == "as saved by the training run"
    assert len(read_warmup(out)) == 3 * len(WARMUP_BATCH_SIZES)


def test_training_can_continue_from_a_saved_model(run_dir: Path, crops: CropSet) -> None:
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
    result = train(crops, crops.select(crops.item < 2), frozen, verbose=0)
    assert np.array_equal(result.model.layers[1].get_weights()[0], kernel)
    fresh = train(crops, crops.select(crops.item < 2), replace(frozen, init_from=None), verbose=0)
    assert not np.array_equal(fresh.model.layers[1].get_weights()[0], kernel)
