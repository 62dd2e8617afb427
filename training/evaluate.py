"""Evaluate a SavedModel on labelled videos/images with the gateway's own pipeline.

    python -m training.evaluate --model models/deepfake/1 --data path/to/folder_or.csv \\
        --out report.json

Data: a folder with real/ and fake/ (images or videos, optionally one subfolder per video or
person) or a CSV with file,label[,group][,source]. Every video is sampled at --fps (the gateway's
DEFAULT_FPS, 2) up to --max-frames, the largest Haar face of each frame is cropped with the
0.2 margin and scored through --signature. Reported: frame-level (every crop) and video-level
(mean frame score per video, as the gateway aggregates) AUC, accuracy, F1 and confusion matrix
at the threshold (--threshold, else the model card's, else 0.5), per source too. Items where
no face was found are listed, not scored (the gateway does not score them either).

Frame-level numbers are the form published results use (e.g. FF++ c23 frame AUC 0.933,
accuracy 0.852, F1 0.843 for a 224 px EfficientNetB0): compare like with like.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from api.contract import (
    CARD_FILE,
    DEFAULT_SIGNATURE,
    ENCODED_SIGNATURE,
    UINT8_SIGNATURE,
    to_model_input,
)
from training import measures
from training.card import read_card
from training.crops import is_video
from training.cropset import MAX_FRAMES, CropSet, Extraction, build, cached
from training.data import load_items
from training.signatures import encode, run_signature

GATEWAY_FPS = 2.0  # the gateway's DEFAULT_FPS


def threshold_for(model_dir: Path, explicit: float | None) -> tuple[float, str]:
    """(threshold, where it came from)."""
    if explicit is not None:
        return explicit, "--threshold"
    if (model_dir / CARD_FILE).is_file():
        return float(read_card(model_dir)["threshold"]), f"{model_dir / CARD_FILE}"
    return 0.5, "default 0.5 (no model card)"


def evaluate(
    model_dir: Path,
    crops: CropSet,
    threshold: float | None = None,
    signature: str = DEFAULT_SIGNATURE,
) -> dict[str, Any]:
    """The JSON report for `crops` scored by the SavedModel at `model_dir`."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_dir))
    value, origin = threshold_for(model_dir, threshold)
    batch: np.ndarray = crops.crops  # serving_uint8
    if signature == DEFAULT_SIGNATURE:
        batch = to_model_input(crops.crops)
    elif signature == ENCODED_SIGNATURE:
        batch = np.array(encode(crops.crops, ".png"), dtype=object)
    scores = run_signature(loaded, signature, batch)
    videos = np.array([is_video(Path(p)) for p in crops.paths])
    has_face = np.isin(np.arange(len(crops.paths)), crops.item)
    report: dict[str, Any] = {
        "model": str(model_dir),
        "signature": signature,
        "threshold": value,
        "threshold_from": origin,
        "items": len(crops.paths),
        "videos": int(videos.sum()),
        "items_without_faces": [str(p) for p in crops.paths[~has_face]],
        "face_detect_rate": float(len(crops) / max(1, int(crops.sampled.sum()))),
    }
    if len(crops):
        report.update(
            measures.report(scores, crops.item, crops.item_labels, videos, value, crops.sources)
        )
    return report


def describe(report: dict[str, Any]) -> str:
    """A short human-readable summary of a report."""
    head = f"model {report['model']} ({report['signature']})"
    lines = [f"{head}, threshold {report['threshold']:.4f} from {report['threshold_from']}"]
    for level in ("frame", "video"):
        part = report.get(level)
        if not part:
            continue
        auc = "n/a" if part["auc"] is None else f"{part['auc']:.3f}"
        (tn, fp), (fn, tp) = part["confusion"]
        lines.append(
            f"{level:5s}  n={part['n']:5d}  AUC {auc}  accuracy {part['accuracy']:.3f}  "
            f"F1 {part['f1']:.3f}  confusion [[TN {tn}, FP {fp}], [FN {fn}, TP {tp}]]"
        )
    for source, part in report.get("per_source", {}).items():
        auc = "n/a" if part["auc"] is None else f"{part['auc']:.3f}"
        lines.append(f"  {source:20s} n={part['n']:5d} AUC {auc} accuracy {part['accuracy']:.3f}")
    if report["items_without_faces"]:
        lines.append(f"no face found in {len(report['items_without_faces'])} item(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="\n\n".join((__doc__ or "").split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, required=True, help="SavedModel version folder")
    parser.add_argument("--data", type=Path, required=True, help="real/+fake/ folder or CSV")
    parser.add_argument("--root", type=Path, help="folder the CSV's files are relative to")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--threshold", type=float, help="default: the model card's threshold")
    parser.add_argument(
        "--signature",
        default=DEFAULT_SIGNATURE,
        choices=[DEFAULT_SIGNATURE, UINT8_SIGNATURE, ENCODED_SIGNATURE],
        help="which signature scores the crops (serving_encoded gets PNG bytes)",
    )
    parser.add_argument("--fps", type=float, default=GATEWAY_FPS, help="video sampling rate")
    parser.add_argument("--max-frames", type=int, default=MAX_FRAMES)
    parser.add_argument("--cache", type=Path, help="cache crops here (.npz) for re-runs")
    parser.add_argument("--workers", type=int, default=1, help="processes for cropping")
    args = parser.parse_args(argv)
    if not (args.model / "saved_model.pb").is_file():
        parser.error(f"no SavedModel at {args.model}")

    items = load_items(args.data, args.root)
    settings = Extraction(target_fps=args.fps, max_frames=args.max_frames, flag_doubtful=False)
    if args.cache is not None:
        crops = cached(items, args.cache, settings, workers=args.workers)
    else:
        crops = build(items, settings, workers=args.workers)
    report = evaluate(args.model, crops, args.threshold, args.signature)
    print(describe(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
