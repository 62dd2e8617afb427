"""Write a Keras model as a TF Serving SavedModel: `<base>/<name>/<version>/`.

Keras 3 no longer writes SavedModels from `model.save(dir)`; `ExportArchive` does, with the
signature named and shaped exactly as the serving contract says:
`serving_default(image: float32 [-1, 64, 64, 3] in [0, 1]) -> {"p_fake": float32 [-1, 1]}`.

    python -m models.export --out models/deepfake/1 --arch efficientnetb0
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from models.architectures import ARCHITECTURES, INPUT_NAME, INPUT_SIZE

OUTPUT_NAME = "p_fake"


def export_saved_model(model: Any, out_dir: Path) -> Path:
    """Export `model` (one [-1, 64, 64, 3] input, one [-1, 1] output) with serving_default."""
    import keras
    import tensorflow as tf

    spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name=INPUT_NAME)

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: model(image, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(out_dir), verbose=False)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="version directory to write")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="efficientnetb0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="replace an existing export")
    args = parser.parse_args(argv)
    if args.out.exists():
        if not args.force:
            parser.error(f"{args.out} exists; pass --force to replace it")
        shutil.rmtree(args.out)
    export_saved_model(ARCHITECTURES[args.arch](seed=args.seed), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
