"""Train a deepfake classifier on face crops: BCE, random over-sampling, self-blends, early stop.

Every epoch draws a fresh table of training rows: real crops (label 0), labelled fake crops
(label 1) and self-blended fakes made from real crops (label 1, blended anew for every batch, as
the SBI paper does, so the network cannot memorise a fixed set of blends). imbalanced-learn's
RandomOverSampler then balances the two classes, and the table is cut to `epoch_size` rows so an
epoch costs the same whatever the data. Validation (whole groups, never frames of a training
video) holds its real crops, its labelled fakes and one fixed self-blend of each of its real
crops; early stopping watches its ROC AUC and keeps the best epoch's weights.

TensorFlow uses a GPU when one is visible and the CPU otherwise; nothing here needs a GPU.

    python -m training.train --data /tmp/deepfake/manifest.csv --root ../shared/data \\
        --cache /tmp/deepfake/cache --run-dir /tmp/deepfake/runs/b0 --arch efficientnetb0
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from api.contract import DEFAULT_CROP_SIZE, to_model_input
from training.architectures import ARCHITECTURES
from training.cropset import TRAIN_FPS, CropSet, Extraction, cached
from training.data import Item, load_items, split_by_group, write_csv
from training.protocol import SWAP_SOURCES, selection_score
from training.sbi import self_blend_batch
from training.sources import is_swap
from training.split import apply_split, read_split

log = logging.getLogger(__name__)

REAL, FAKE, BLEND = 0, 1, 2  # kinds of training rows
MONITORS = ("val_auc", "val_swap_auc")


@dataclass
class TrainConfig:
    arch: str = "efficientnetb0"
    arch_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"width": 4} for cnn4
    input_size: int = DEFAULT_CROP_SIZE  # crop side in pixels (the exported model serves it)
    epochs: int = 12  # at most; early stopping may end sooner
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3  # epochs without a better validation AUC before stopping
    epoch_size: int | None = 8000  # rows per epoch after balancing; None = all of them
    self_blend: bool = True  # add self-blended fakes made from the real crops
    real_fakes: bool = True  # use the labelled fakes
    blend_share: float = 0.5  # share of the fake class that is self-blended, with real fakes
    # Share of the fake class drawn from face-swap crops (the rest: blends and synthetic fakes);
    # None: labelled fakes of every kind pooled, as v1 was trained.
    swap_share: float | None = None
    # What early stopping watches: "val_auc" (all validation crops and fixed blends, v1) or
    # "val_swap_auc" (the selection score of training.protocol on the validation crops).
    monitor: str = "val_auc"
    confident_only: bool = True  # train only on crops whose largest face is the surest one
    flip: bool = True  # random horizontal flips
    time_budget_s: float | None = None  # stop after the epoch that would overrun this
    seed: int = 0
    init_from: str | None = None  # a model.keras to continue from (same arch), e.g. new crops

    def check(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; known: {sorted(ARCHITECTURES)}")
        if not (self.self_blend or self.real_fakes):
            raise ValueError("no fakes to learn from: enable self_blend or real_fakes")
        if self.real_fakes and self.self_blend and not 0 < self.blend_share < 1:
            raise ValueError("blend_share must be between 0 and 1 when mixing")
        if self.swap_share is not None and not (
            self.swap_share > 0 and self.swap_share + self.blend_share < 1
        ):
            raise ValueError("swap_share and blend_share must leave a share for synthetic fakes")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}")


def epoch_table(
    labels: np.ndarray,
    config: TrainConfig,
    rng: np.random.Generator,
    swap: np.ndarray | None = None,
) -> np.ndarray:
    """[n, 2] rows (crop index, kind) for one epoch, classes balanced by random over-sampling.

    With `config.swap_share` and `swap` (per crop: from a face-swap source), the fake class is
    composed instead: as many fakes as reals, `swap_share` of them face-swap crops,
    `blend_share` self-blends and the rest synthetic fakes, each drawn at random (with
    replacement from a pool smaller than its share)."""
    if config.swap_share is not None and swap is not None:
        return _composed_table(labels, swap, config, rng)
    from imblearn.over_sampling import RandomOverSampler

    reals = np.flatnonzero(labels == 0)
    fakes = np.flatnonzero(labels == 1) if config.real_fakes else np.zeros(0, np.int64)
    parts = [np.column_stack([reals, np.full(len(reals), REAL)])]
    parts.append(np.column_stack([fakes, np.full(len(fakes), FAKE)]))
    if config.self_blend and len(reals):
        share = config.blend_share if len(fakes) else 1.0
        count = round(len(fakes) * share / (1 - share)) if len(fakes) else len(reals)
        chosen = rng.choice(reals, count, replace=count > len(reals))
        parts.append(np.column_stack([chosen, np.full(count, BLEND)]))
    table = np.concatenate(parts).astype(np.int64)
    target = (table[:, 1] != REAL).astype(np.int64)
    if len(np.unique(target)) < 2:
        raise ValueError("training needs both real crops and fakes (labelled or self-blended)")
    sampler = RandomOverSampler(random_state=int(rng.integers(2**31 - 1)))
    resampled, _ = sampler.fit_resample(np.arange(len(table))[:, None], target)
    index: np.ndarray = np.asarray(resampled, dtype=np.int64)[:, 0]
    table = table[index]
    table = table[rng.permutation(len(table))]
    if config.epoch_size and len(table) > config.epoch_size:
        table = table[: config.epoch_size]
    return np.asarray(table, dtype=np.int64)


def _composed_table(
    labels: np.ndarray, swap: np.ndarray, config: TrainConfig, rng: np.random.Generator
) -> np.ndarray:
    assert config.swap_share is not None
    reals = np.flatnonzero(labels == 0)
    swaps = np.flatnonzero((labels == 1) & swap)
    synthetic = np.flatnonzero((labels == 1) & ~swap)
    if not (len(reals) and len(swaps) and len(synthetic)):
        raise ValueError("a composed fake class needs reals, face-swap and synthetic fakes")
    n_swap = round(len(reals) * config.swap_share)
    n_blend = round(len(reals) * config.blend_share)
    n_synthetic = len(reals) - n_swap - n_blend
    parts = [
        np.column_stack([reals, np.full(len(reals), REAL)]),
        np.column_stack([_draw(swaps, n_swap, rng), np.full(n_swap, FAKE)]),
        np.column_stack([_draw(synthetic, n_synthetic, rng), np.full(n_synthetic, FAKE)]),
        np.column_stack([_draw(reals, n_blend, rng), np.full(n_blend, BLEND)]),
    ]
    table = np.concatenate(parts).astype(np.int64)
    table = table[rng.permutation(len(table))]
    if config.epoch_size and len(table) > config.epoch_size:
        table = table[: config.epoch_size]
    return table


def _draw(pool: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(pool, count, replace=count > len(pool))


def assemble(
    crops: np.ndarray, rows: np.ndarray, rng: np.random.Generator, flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A model-ready batch (float32 [n, S, S, 3] in [0, 1], labels [n, 1]) for table rows."""
    batch = crops[rows[:, 0]].copy()
    blend = rows[:, 1] == BLEND
    if blend.any():
        batch[blend] = self_blend_batch(batch[blend], rng)
    if flip:
        mirror = rng.random(len(batch)) < 0.5
        batch[mirror] = batch[mirror, :, ::-1]
    labels = (rows[:, 1] != REAL).astype(np.float32)[:, None]
    return to_model_input(batch), labels


def make_batches(
    crops: np.ndarray, labels: np.ndarray, config: TrainConfig, swap: np.ndarray | None = None
) -> Any:
    """A keras PyDataset that draws a new epoch table (and new blends) every epoch."""
    import keras

    class Batches(keras.utils.PyDataset):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(config.seed)
            self.table = epoch_table(labels, config, self.rng, swap)

        def __len__(self) -> int:
            return math.ceil(len(self.table) / config.batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = self.table[index * config.batch_size : (index + 1) * config.batch_size]
            return assemble(crops, rows, self.rng, config.flip)

        def on_epoch_end(self) -> None:
            self.table = epoch_table(labels, config, self.rng, swap)

    return Batches()


def validation_arrays(
    val: CropSet, self_blend: bool, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uint8 crops, labels, kinds): every validation crop plus one fixed blend of each real."""
    crops, labels = val.crops, val.labels.astype(np.int64)
    kinds = np.where(labels == 1, FAKE, REAL)
    if self_blend:
        reals = crops[labels == 0]
        blends = self_blend_batch(reals, np.random.default_rng(seed + 1))
        crops = np.concatenate([crops, blends])
        labels = np.concatenate([labels, np.ones(len(blends), np.int64)])
        kinds = np.concatenate([kinds, np.full(len(blends), BLEND)])
    return crops, labels, kinds


def score(model: Any, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """P(fake) per uint8 crop, through the same scaling the gateway uses."""
    if not len(crops):
        return np.zeros(0, np.float32)
    out: np.ndarray = model.predict(to_model_input(crops), batch_size=batch_size, verbose=0)
    return out.reshape(-1)


@dataclass
class TrainResult:
    model: Any
    history: dict[str, list[float]]
    best_epoch: int  # 1-based
    epochs_run: int
    seconds: float


def _swap_auc(val: CropSet) -> Any:
    """A callback that puts the protocol's selection score of each epoch in the logs as
    `val_swap_auc`, before early stopping reads them."""
    import keras

    from training.measures import auc

    rows = np.isin(val.crop_sources, SWAP_SOURCES)
    crops, labels = val.crops[rows], val.labels[rows].astype(np.int64)
    sources = val.crop_sources[rows]

    class SwapAUC(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            scores = score(self.model, crops)
            value = selection_score(
                {s: auc(labels[sources == s], scores[sources == s]) for s in SWAP_SOURCES}
            )
            if logs is not None:
                logs["val_swap_auc"] = value
            log.info("epoch %d: validation selection score %.4f", epoch + 1, value)

    return SwapAUC()


def _time_budget(seconds: float | None) -> Any:
    import keras

    class TimeBudget(keras.callbacks.Callback):  # type: ignore[misc]
        """Stops when another epoch as long as the longest so far would overrun the budget;
        also records each epoch's wall time."""

        def __init__(self) -> None:
            super().__init__()
            self.start = time.monotonic()
            self.epoch_start = self.start
            self.durations: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch_start = time.monotonic()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            now = time.monotonic()
            self.durations.append(now - self.epoch_start)
            if seconds is not None and now - self.start + max(self.durations) > seconds:
                log.info("time budget of %.0f s reached after epoch %d", seconds, epoch + 1)
                self.model.stop_training = True

    return TimeBudget()


def train(
    train_set: CropSet, val_set: CropSet, config: TrainConfig, verbose: int = 2
) -> TrainResult:
    """Fit `config.arch` on the training crops; keep the weights of the best validation epoch."""
    import keras

    config.check()
    if config.confident_only:
        train_set = train_set.select(train_set.confident)
    if config.init_from:
        keras.utils.set_random_seed(config.seed)
        model = keras.models.load_model(config.init_from, compile=False)
    else:
        model = ARCHITECTURES[config.arch](
            seed=config.seed, size=config.input_size, **config.arch_options
        )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    val_crops, val_labels, _ = validation_arrays(val_set, config.self_blend, config.seed)
    stopper = keras.callbacks.EarlyStopping(
        monitor=config.monitor, mode="max", patience=config.patience, restore_best_weights=True
    )
    clock = _time_budget(config.time_budget_s)
    # The monitored value must be in the logs before early stopping reads them.
    callbacks = [_swap_auc(val_set)] if config.monitor == "val_swap_auc" else []
    swap = np.array([is_swap(source) for source in train_set.crop_sources], bool)
    started = time.monotonic()
    fitted = model.fit(
        make_batches(train_set.crops, train_set.labels, config, swap),
        validation_data=(to_model_input(val_crops), val_labels.astype(np.float32)[:, None]),
        validation_batch_size=256,
        epochs=config.epochs,
        callbacks=[*callbacks, stopper, clock],
        verbose=verbose,
    )
    history = {k: [float(v) for v in values] for k, values in fitted.history.items()}
    history["epoch_seconds"] = clock.durations
    aucs = history.get(config.monitor, [])
    return TrainResult(
        model=model,
        history=history,
        best_epoch=int(np.argmax(aucs)) + 1 if aucs else len(clock.durations),
        epochs_run=len(clock.durations),
        seconds=time.monotonic() - started,
    )


def device() -> str:
    """What TensorFlow trains on here: the first GPU when one is visible, else the CPU."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU {gpus[0].name}" if gpus else f"CPU ({os.cpu_count()} cores)"


def save_run(
    run_dir: Path,
    result: TrainResult,
    config: TrainConfig,
    train_items: list[Item],
    val_items: list[Item],
    val_set: CropSet,
    data_root: Path,
    fps: float = TRAIN_FPS,
    split_file: Path | None = None,
) -> Path:
    """Everything export and the notebooks need: weights, history, config, split, val crops;
    with `split_file`, which fixed split the run followed (the card repeats it)."""
    from training.plots import plot_history

    run_dir.mkdir(parents=True, exist_ok=True)
    result.model.save(run_dir / "model.keras")
    summary = {
        "config": asdict(config),
        "fps": fps,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": round(result.seconds, 1),
        "device": device(),
        "history": result.history,
    }
    if split_file is not None:
        summary["split_file"] = (
            f"by group, never by frame: the fixed split file {split_file.as_posix()} "
            "(training.split; groups: source video, identity, FF++ linked originals and fakes, "
            "or the file itself)"
        )
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2))
    write_csv(train_items, run_dir / "train.csv", data_root)
    write_csv(val_items, run_dir / "validation.csv", data_root)
    val_set.save(run_dir / "validation.npz")
    plot_history(result.history, run_dir / "history.png", best_epoch=result.best_epoch)
    return run_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Train a deepfake classifier on face crops of labelled images/videos.",
        epilog="Then: python -m training.export --run RUN_DIR --out models/deepfake/<version>",
    )
    parser.add_argument("--data", type=Path, required=True, help="CSV form or real/+fake/ folder")
    parser.add_argument("--root", type=Path, help="folder the CSV's files are relative to")
    parser.add_argument("--cache", type=Path, required=True, help="folder for the crop cache")
    parser.add_argument("--run-dir", type=Path, required=True, help="where to write the run")
    defaults = TrainConfig()
    parser.add_argument(
        "--arch", choices=sorted(ARCHITECTURES), default=defaults.arch, help="network to train"
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="at most this many")
    parser.add_argument(
        "--epoch-size", type=int, default=defaults.epoch_size, help="rows per epoch (0 = all)"
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="rows a step")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="Adam's rate")
    parser.add_argument(
        "--patience", type=int, default=defaults.patience, help="epochs without a better val AUC"
    )
    parser.add_argument(
        "--blend-share",
        type=float,
        default=defaults.blend_share,
        help="share of the fake class made of self-blends when mixing with labelled fakes",
    )
    parser.add_argument(
        "--swap-share",
        type=float,
        help="share of the fake class made of face-swap crops (the rest: blends, synthetic)",
    )
    parser.add_argument(
        "--monitor", choices=MONITORS, default=defaults.monitor, help="what early stopping watches"
    )
    parser.add_argument("--split", type=Path, help="a fixed split file (training.split)")
    parser.add_argument(
        "--input-size", type=int, default=defaults.input_size, help="crop side in pixels"
    )
    parser.add_argument(
        "--arch-option",
        action="append",
        default=[],
        metavar="KEY=INT",
        help="architecture option, e.g. width=2 (repeatable)",
    )
    parser.add_argument("--no-self-blend", action="store_true", help="labelled fakes only")
    parser.add_argument("--no-real-fakes", action="store_true", help="self-blended fakes only")
    parser.add_argument(
        "--all-crops", action="store_true", help="also train on crops with no face inside"
    )
    parser.add_argument("--time-budget", type=float, help="seconds of training at most")
    parser.add_argument(
        "--val-fraction", type=float, default=0.25, help="share of each stratum's groups"
    )
    parser.add_argument("--fps", type=float, default=Extraction().target_fps, help="video sampling")
    parser.add_argument("--workers", type=int, default=1, help="processes for cropping")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="split, init, sampling")
    parser.add_argument("--init-from", type=Path, help="continue from this model.keras")
    args = parser.parse_args(argv)
    # force: importing TensorFlow may already have put a handler on the root logger.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)

    config = TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        patience=args.patience,
        epoch_size=args.epoch_size or None,
        self_blend=not args.no_self_blend,
        real_fakes=not args.no_real_fakes,
        blend_share=args.blend_share,
        swap_share=args.swap_share,
        monitor=args.monitor,
        arch_options=dict(_option(text) for text in args.arch_option),
        input_size=args.input_size,
        confident_only=not args.all_crops,
        time_budget_s=args.time_budget,
        seed=args.seed,
        init_from=str(args.init_from) if args.init_from else None,
    )
    config.check()
    items = load_items(args.data, args.root)
    root = args.root or (args.data.parent if args.data.is_file() else args.data)
    if args.split:
        train_items, val_items = apply_split(items, read_split(args.split))
    else:
        train_items, val_items = split_by_group(items, args.val_fraction, args.seed)
    extraction = Extraction(target_fps=args.fps, crop_size=args.input_size)
    crops = cached(items, args.cache, extraction, workers=args.workers)
    train_set = crops.of_items({str(i.path) for i in train_items})
    val_set = crops.of_items({str(i.path) for i in val_items})
    log.info("train %d crops, validation %d crops", len(train_set), len(val_set))
    result = train(train_set, val_set, config)
    save_run(
        args.run_dir, result, config, train_items, val_items, val_set, root, args.fps, args.split
    )
    log.info(
        "best epoch %d of %d, %.0f s; wrote %s",
        result.best_epoch,
        result.epochs_run,
        result.seconds,
        args.run_dir,
    )


def _option(text: str) -> tuple[str, int]:
    key, _, value = text.partition("=")
    return key, int(value)


if __name__ == "__main__":
    main()
