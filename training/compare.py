"""Model versions side by side on the validation protocol (`training.protocol`), as served.

    python -m training.compare --data /tmp/deepfake/manifest_v2.csv --root ../shared/data \\
        --split training/splits/v2.csv --cache /tmp/deepfake/cache \\
        --model models/deepfake/1 --model /tmp/deepfake/export/cnn4 --out comparison.json

Each version's `model.tflite` scores the validation crops of the split, cut by the gateway's own
path at the version's input size, in the runtime `make run` serves it with (LiteRT). Per source:
frame- and video-level AUC with group-bootstrap intervals; the selection score; the paired
difference of every version against the first; the cost per crop (one LiteRT thread, batches of
64, the median of 5 passes).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from api.backends.runtimes import litert_runner
from api.contract import CARD_FILE, TFLITE_FILE
from api.pipeline.batching import chunks
from training.cropset import CropSet, Extraction, cached
from training.data import load_items
from training.protocol import paired_difference, source_report, video_scores
from training.split import apply_split, read_split

COST_BATCH = 64
COST_PASSES = 5


def input_size(model_dir: Path) -> int:
    return litert_runner(model_dir / TFLITE_FILE, threads=1).crop_size


def scores_of(model_dir: Path, crops: np.ndarray) -> np.ndarray:
    run = litert_runner(model_dir / TFLITE_FILE, threads=0)
    parts = [np.asarray(run(part)).reshape(-1) for part in chunks(crops, 256)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def cost_per_crop_ms(model_dir: Path, crops: np.ndarray) -> float:
    run = litert_runner(model_dir / TFLITE_FILE, threads=1)
    batch = crops[:COST_BATCH]
    run(batch)  # the first call allocates
    passes = []
    for _ in range(COST_PASSES):
        started = time.perf_counter()
        run(batch)
        passes.append((time.perf_counter() - started) * 1000 / len(batch))
    return float(np.median(passes))


def uncertain_share(model_dir: Path, val: CropSet, scores: np.ndarray) -> dict[str, Any] | None:
    """How many validation videos (items) and crops the card's uncertainty band leaves
    undecided: the mean score of an item, like the gateway's video score, inside [low, high)."""
    card_path = model_dir / CARD_FILE
    if not card_path.is_file():
        return None
    low, high = json.loads(card_path.read_text())["uncertainty_band"]
    _, item_scores, _ = video_scores(val, scores)
    inside = (item_scores >= low) & (item_scores < high)
    crops_inside = (scores >= low) & (scores < high)
    return {
        "band": [low, high],
        "videos": round(float(inside.mean()), 4),
        "crops": round(float(crops_inside.mean()), 4),
    }


def validation_crops(args: argparse.Namespace, size: int) -> CropSet:
    items = load_items(args.data, args.root)
    _, val_items = apply_split(items, read_split(args.split))
    crops = cached(items, args.cache, Extraction(crop_size=size), workers=args.workers)
    return crops.of_items({str(i.path) for i in val_items})


def compare(args: argparse.Namespace) -> dict[str, Any]:
    sets: dict[int, CropSet] = {}
    results: dict[str, Any] = {}
    scores: dict[str, np.ndarray] = {}
    for model_dir in args.model:
        size = input_size(model_dir)
        if size not in sets:
            sets[size] = validation_crops(args, size)
        val = sets[size]
        scores[str(model_dir)] = scores_of(model_dir, val.crops)
        results[str(model_dir)] = {
            "input_size": size,
            "cost_ms_per_crop": round(cost_per_crop_ms(model_dir, val.crops), 3),
            "validation": source_report(val, scores[str(model_dir)]),
            "uncertain": uncertain_share(model_dir, val, scores[str(model_dir)]),
        }
    first = str(args.model[0])
    first_set = sets[results[first]["input_size"]]
    for name in scores:
        val = sets[results[name]["input_size"]]
        # Paired only on the same faces: detection does not depend on the crop size, so crops
        # cut at another size pair up when they come from the same items in the same order.
        if name != first and np.array_equal(val.item, first_set.item):
            results[name]["versus_first"] = paired_difference(val, scores[name], scores[first])
    return results


def describe(results: dict[str, Any]) -> str:
    lines = []
    for name, result in results.items():
        validation = result["validation"]
        lines.append(
            f"{name}: {result['input_size']} px, {result['cost_ms_per_crop']} ms/crop, "
            f"selection score {validation['selection_score']:.4f}"
        )
        for source, entry in validation.items():
            if source == "selection_score":
                continue
            frame, video = entry["frame"], entry["video"]
            lines.append(f"  {source:18s} frame {_auc(frame)}   video {_auc(video)}")
        if result.get("uncertain"):
            lines.append(f"  uncertain (inside the card's band): {result['uncertain']}")
        if "versus_first" in result:
            versus = result["versus_first"]
            lines.append(f"  versus the first: {versus['difference']:+.4f} {versus['ci95']}")
    return "\n".join(lines)


def _auc(entry: dict[str, Any]) -> str:
    if entry["auc"] is None:
        return f"{'-':>22s} (n={entry['n']})"
    low, high = entry["ci95"] or (float("nan"), float("nan"))
    return f"{entry['auc']:.3f} [{low:.3f}, {high:.3f}] (n={entry['n']})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compare model versions on the validation split.")
    parser.add_argument("--data", type=Path, required=True, help="the manifest CSV")
    parser.add_argument("--root", type=Path, help="folder the CSV's files are relative to")
    parser.add_argument("--split", type=Path, required=True, help="the fixed split file")
    parser.add_argument("--cache", type=Path, required=True, help="the crop cache folder")
    parser.add_argument("--model", type=Path, action="append", required=True, help="a version")
    parser.add_argument("--workers", type=int, default=1, help="processes for cropping")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    results = compare(args)
    print(describe(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
