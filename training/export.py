"""The command line that writes a version: from a training run, untrained, or its .tflite only.

`--run` exports, validates and documents a training run (training.release); `--arch` exports an
untrained network with a placeholder card; `--add-tflite` gives an existing version its LiteRT
copy. Every version gets the three signatures, the warm-up file, the .tflite (each checked
against serving_default) and a model card (training.saved_model, training.signatures).

    python -m training.export --run /tmp/deepfake/runs/b0 --out models/deepfake/1 --force
    python -m training.export --arch efficientnetb0 --out models/deepfake/1 --force   # untrained
    python -m training.export --add-tflite --out models/deepfake/1    # an existing version
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from api.contract import (
    CARD_FILE,
    DEFAULT_SIGNATURE,
    TFLITE_FILE,
    crop_size_from_shape,
    to_model_input,
)
from training.architectures import ARCHITECTURES
from training.card import placeholder_card, read_card, write_card
from training.measures import RELIABILITY
from training.release import export_run, fresh_validation
from training.saved_model import export_saved_model, version_of, write_tflite
from training.signatures import (
    TOLERANCE,
    check_signatures,
    described_signatures,
    run_signature,
    signature_differences,
    tflite_difference,
)
from training.warmup import warmup_crops

# Crops the checks run on: warm-up crops (no data needed), a seed apart from the warm-up file's.
CHECK_SEED = 1
UNTRAINED_CHECK_CROPS = 16
TFLITE_CHECK_CROPS = 64  # a count (what the shipped card records), not the crop size


def export_untrained(arch: str, out_dir: Path, seed: int, model_name: str) -> Path:
    """An untrained `arch` as a checked version with a placeholder card."""
    import tensorflow as tf

    model = ARCHITECTURES[arch](seed=seed)
    export_saved_model(model, out_dir, model_name=model_name)
    size = crop_size_from_shape(model.input_shape)
    crops = warmup_crops(UNTRAINED_CHECK_CROPS, seed=CHECK_SEED, size=size)
    loaded = tf.saved_model.load(str(out_dir))
    differences = signature_differences(loaded, crops, out_dir / TFLITE_FILE)
    check_signatures(differences)
    signatures = described_signatures(differences, len(crops), size=size)
    write_card(out_dir, placeholder_card(model_name, version_of(out_dir), arch, signatures))
    return out_dir


def add_tflite(out_dir: Path) -> dict[str, float]:
    """Give an existing version its model.tflite, checked against serving_default on the
    warm-up crops, and record the difference in its model card."""
    import tensorflow as tf

    path = write_tflite(out_dir)
    loaded = tf.saved_model.load(str(out_dir))
    (spec,) = loaded.signatures[DEFAULT_SIGNATURE].structured_input_signature[1].values()
    size = crop_size_from_shape(spec.shape.as_list())
    crops = warmup_crops(TFLITE_CHECK_CROPS, seed=CHECK_SEED, size=size)
    reference = run_signature(loaded, DEFAULT_SIGNATURE, to_model_input(crops))
    difference = {TFLITE_FILE: tflite_difference(path, crops, reference)}
    check_signatures(difference)
    if (out_dir / CARD_FILE).is_file():
        _record_tflite(out_dir, difference, len(crops))
    return difference


def _record_tflite(out_dir: Path, difference: dict[str, float], n_crops: int) -> None:
    card = read_card(out_dir)
    card.setdefault("signatures", {})[TFLITE_FILE] = {
        "runtime": "LiteRT (ai-edge-litert), converted from serving_uint8",
        "max_abs_diff_vs_serving_default": difference,
        "tolerance": {TFLITE_FILE: TOLERANCE[TFLITE_FILE]},
        "measured_on_crops": n_crops,
    }
    write_card(out_dir, card)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Export a SavedModel version (signatures, warm-up file, model card).",
        epilog=__doc__.split("\n\n")[-1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, required=True, help="version directory to write")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, help="a training run (python -m training.train)")
    source.add_argument(
        "--arch", choices=sorted(ARCHITECTURES), help="export an untrained network (placeholder)"
    )
    parser.add_argument("--reports", type=Path, help="folder for plots and the JSON report")
    parser.add_argument(
        "--root",
        type=Path,
        help="data folder of the run's validation.csv: re-crop validation with today's "
        "pipeline code (default: the crops the run saved)",
    )
    parser.add_argument("--cache", type=Path, help="crop cache for --root")
    parser.add_argument("--workers", type=int, default=1, help="processes for cropping")
    parser.add_argument("--name", default="deepfake", help="model name in warm-up requests")
    parser.add_argument(
        "--extra", type=Path, help="JSON object merged into the model card (e.g. notes)"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fold a calibration fitted on validation into the graph (training.calibration)",
    )
    parser.add_argument(
        "--calibration-method",
        choices=("platt", "isotonic", "none"),
        help="with --calibrate: this method instead of the rule's choice",
    )
    parser.add_argument(
        "--band-reliability",
        type=float,
        default=RELIABILITY,
        help="verdicts outside the uncertainty band were right this often on validation",
    )
    parser.add_argument("--seed", type=int, default=0, help="initialisation of --arch")
    parser.add_argument("--force", action="store_true", help="replace an existing export")
    parser.add_argument(
        "--add-tflite",
        action="store_true",
        help="only add model.tflite to the existing version --out (checked, recorded in its card)",
    )
    return parser


def export_from_run(args: argparse.Namespace) -> None:
    """--run: the run's model exported, validated and documented by training.release."""
    extra = json.loads(args.extra.read_text()) if args.extra else None
    val = None
    if args.root is not None:
        cache = args.cache or args.run / "cache"
        val = fresh_validation(args.run, args.root, cache, args.workers)
    card = export_run(
        args.run,
        args.out,
        model_name=args.name,
        reports=args.reports,
        extra=extra,
        val=val,
        calibrate=args.calibrate or None,
        calibration_method=args.calibration_method,
        band_reliability=args.band_reliability,
    )
    print(json.dumps({k: card[k] for k in ("threshold", "uncertainty_band")}, indent=2))


def main(argv: list[str] | None = None) -> None:
    cli = build_parser()
    args = cli.parse_args(argv)
    if not args.out.name.isdigit():
        cli.error("--out must end in a numeric version folder, e.g. models/deepfake/1")
    if args.add_tflite:
        print(json.dumps(add_tflite(args.out), indent=2))
        return
    if args.out.exists():
        if not args.force:
            cli.error(f"{args.out} exists; pass --force to replace it")
        shutil.rmtree(args.out)
    if args.run is not None:
        export_from_run(args)
    else:
        export_untrained(args.arch or "efficientnetb0", args.out, args.seed, args.name)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
