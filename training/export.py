"""Write a Keras model as a TF Serving SavedModel: `<base>/<name>/<version>/`.

Keras 3 no longer writes SavedModels from `model.save(dir)`; `ExportArchive` does, with the
signatures named and shaped exactly as the serving contract says:

- `serving_default(image: float32 [-1, 64, 64, 3] in [0, 1]) -> {"p_fake": float32 [-1, 1]}`
- `serving_uint8(image: uint8 [-1, 64, 64, 3] in 0..255)`: 4x smaller requests, same scores
  (the graph divides by 255 exactly as the gateway does).
- `serving_encoded(image_bytes: string [-1])`: PNG or JPEG crops of 64x64 decoded in the graph
  (tf.io.decode_image); PNG gives the same scores, JPEG the scores of the JPEG-decoded pixels.

Each version also gets `model.tflite` (serving_uint8 converted for LiteRT, which the embedded
backend runs in ~90 MB instead of TensorFlow's ~900 MB; checked against serving_default),
`assets.extra/tf_serving_warmup_requests` (TF Serving replays it before
serving, so no user pays the first-call cost) and a `model_card.json`.

    python -m training.export --run /tmp/deepfake/runs/b0 --out models/deepfake/1 --force
    python -m training.export --arch efficientnetb0 --out models/deepfake/1 --force   # untrained
    python -m training.export --add-tflite --out models/deepfake/1    # an existing version
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.contract import TFLITE_FILE, encode_crop, to_model_input
from training.architectures import ARCHITECTURES, INPUT_NAME, INPUT_SIZE
from training.card import placeholder_card, write_card

OUTPUT_NAME = "p_fake"
UINT8_SIGNATURE = "serving_uint8"
ENCODED_SIGNATURE = "serving_encoded"
ENCODED_INPUT = "image_bytes"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
WARMUP_BATCH_SIZES = (1, 8)
# Largest |score - serving_default score| accepted on the same crops (tests and export check).
# The pixels reaching the network are bit for bit the same; what remains is float32 rounding
# inside the graph (TensorFlow's optimiser may fold the /255 into the model's own scaling):
# measured up to 1.2e-6 on an EfficientNetB0, 3e-8 on the small CNN.
TOLERANCE = {
    UINT8_SIGNATURE: 1e-5,  # same float32 pixels, same network
    f"{ENCODED_SIGNATURE}/png": 1e-5,  # lossless
    # JPEG bytes vs the same bytes decoded by OpenCV and sent to serving_default: both decode
    # with libjpeg's accurate integer IDCT, so the pixels agree.
    f"{ENCODED_SIGNATURE}/jpeg": 1e-5,
    # The same graph compiled by the TFLite converter and run by LiteRT's XNNPACK kernels:
    # measured 4e-8 on the small CNN.
    TFLITE_FILE: 1e-5,
}
JPEG_QUALITY = 95


def signatures_description() -> dict[str, Any]:
    shape = f"[-1, {INPUT_SIZE}, {INPUT_SIZE}, 3]"
    return {
        "serving_default": {
            "inputs": {INPUT_NAME: f"float32 {shape} RGB in [0, 1] (pixel / 255)"},
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
        UINT8_SIGNATURE: {
            "inputs": {INPUT_NAME: f"uint8 {shape} RGB in 0..255"},
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
        ENCODED_SIGNATURE: {
            "inputs": {
                ENCODED_INPUT: "string [-1]: PNG or JPEG bytes of 64x64 RGB crops "
                '(TF Serving REST: {"b64": ...})'
            },
            "outputs": {OUTPUT_NAME: "float32 [-1, 1]"},
        },
    }


def export_saved_model(model: Any, out_dir: Path, *, model_name: str = "deepfake") -> Path:
    """Export `model` (one [-1, 64, 64, 3] input, one [-1, 1] output) with serving_default, the
    compact signatures and a warm-up file."""
    import keras
    import tensorflow as tf

    spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name=INPUT_NAME)
    uint8_spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.uint8, name=INPUT_NAME)
    bytes_spec = tf.TensorSpec([None], tf.string, name=ENCODED_INPUT)

    def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: model(image, training=False)}

    def serve_uint8(image: tf.Tensor) -> dict[str, tf.Tensor]:
        # float32 / float32(255): bit for bit what api.pipeline.batching.to_model_input does.
        return serve(tf.cast(image, tf.float32) / tf.constant(255.0, tf.float32))

    def decode(data: tf.Tensor) -> tf.Tensor:
        # TF's JPEG default is the fast integer IDCT; OpenCV (and PIL) decode with the accurate
        # one. Asking for it makes in-graph pixels equal to what the gateway encoded from.
        image = tf.cond(
            tf.io.is_jpeg(data),
            lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False),
        )
        # A crop of the wrong size is an error, not something to resize silently.
        return tf.ensure_shape(image, [INPUT_SIZE, INPUT_SIZE, 3])

    def serve_encoded(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.map_fn(
            decode,
            image_bytes,
            fn_output_signature=tf.TensorSpec([INPUT_SIZE, INPUT_SIZE, 3], tf.uint8),
        )
        return serve_uint8(images)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.add_endpoint(name=UINT8_SIGNATURE, fn=serve_uint8, input_signature=[uint8_spec])
    archive.add_endpoint(name=ENCODED_SIGNATURE, fn=serve_encoded, input_signature=[bytes_spec])
    archive.write_out(str(out_dir), verbose=False)
    write_warmup(out_dir, model_name)
    write_tflite(out_dir)
    return out_dir


def write_tflite(out_dir: Path) -> Path:
    """Convert the version's serving_uint8 for LiteRT, next to the SavedModel (TF Serving
    ignores the file; the embedded backend prefers it)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(out_dir), signature_keys=[UINT8_SIGNATURE]
    )
    path = out_dir / TFLITE_FILE
    path.write_bytes(converter.convert())
    return path


def run_tflite(path: Path, crops: np.ndarray) -> np.ndarray:
    """Scores [N] from the .tflite, run by LiteRT as the embedded backend runs it."""
    from api.backends.runtimes import litert_runner

    return litert_runner(path, threads=1)(crops).reshape(-1)


def warmup_crops(count: int, seed: int = 0) -> np.ndarray:
    """Deterministic uint8 crops for warm-up requests (content does not matter, shapes do)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 210, INPUT_SIZE, dtype=np.float32)
    base = (ramp[None, :, None] + ramp[:, None, None]) / 2
    noise = rng.normal(0, 12, (count, INPUT_SIZE, INPUT_SIZE, 3))
    crops: np.ndarray = np.clip(base[None] + noise, 0, 255).astype(np.uint8)
    return crops


def encode(crops: np.ndarray, fmt: str = ".png", quality: int = JPEG_QUALITY) -> list[bytes]:
    """PNG or JPEG bytes of RGB uint8 crops, as the gateway would send them."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else []
    return [encode_crop(crop, fmt, params) for crop in crops]


def decode(blobs: list[bytes]) -> np.ndarray:
    """RGB uint8 crops back from encoded bytes, with OpenCV."""
    out = []
    for blob in blobs:
        image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("OpenCV could not decode an encoded crop")
        out.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(out)


def warmup_requests(model_name: str) -> list[Any]:
    """PredictionLog records: every signature at the batch sizes in WARMUP_BATCH_SIZES."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    records = []
    for size in WARMUP_BATCH_SIZES:
        crops = warmup_crops(size)
        inputs = {
            "serving_default": (INPUT_NAME, tf.make_tensor_proto(to_model_input(crops))),
            UINT8_SIGNATURE: (INPUT_NAME, tf.make_tensor_proto(crops)),
            ENCODED_SIGNATURE: (
                ENCODED_INPUT,
                tf.make_tensor_proto(encode(crops), dtype=tf.string, shape=[size]),
            ),
        }
        for signature, (key, tensor) in inputs.items():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = signature
            request.inputs[key].CopyFrom(tensor)
            records.append(
                prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
            )
    return records


def write_warmup(out_dir: Path, model_name: str) -> Path:
    import tensorflow as tf

    path = out_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_requests(model_name):
            writer.write(record.SerializeToString())
    return path


def read_warmup(model_dir: Path) -> list[Any]:
    """The PredictionLog records of a version's warm-up file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for raw in tf.data.TFRecordDataset(str(model_dir / WARMUP_FILE)):
        record = prediction_log_pb2.PredictionLog()
        record.ParseFromString(raw.numpy())
        records.append(record)
    return records


def run_signature(loaded: Any, name: str, batch: Any, batch_size: int = 256) -> np.ndarray:
    """Scores [N] from one signature of a loaded SavedModel, in chunks."""
    import tensorflow as tf

    signature = loaded.signatures[name]
    (key,) = signature.structured_input_signature[1]
    dtype = signature.structured_input_signature[1][key].dtype
    parts = []
    for start in range(0, len(batch), batch_size):
        chunk = tf.constant(batch[start : start + batch_size], dtype=dtype)
        parts.append(signature(**{key: chunk})[OUTPUT_NAME].numpy().reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def signature_differences(
    loaded: Any, crops: np.ndarray, tflite: Path | None = None
) -> dict[str, float]:
    """Largest |score - serving_default score| of every compact signature (and of the .tflite)
    on the same crops, plus how far JPEG itself moves the scores (a property of the wire
    format, not a bug)."""
    reference = run_signature(loaded, "serving_default", to_model_input(crops))
    uint8 = run_signature(loaded, UINT8_SIGNATURE, crops)
    png = run_signature(loaded, ENCODED_SIGNATURE, np.array(encode(crops, ".png"), dtype=object))
    jpeg_bytes = encode(crops, ".jpg")
    jpeg = run_signature(loaded, ENCODED_SIGNATURE, np.array(jpeg_bytes, dtype=object))
    jpeg_reference = run_signature(loaded, "serving_default", to_model_input(decode(jpeg_bytes)))
    differences = {
        UINT8_SIGNATURE: float(np.abs(uint8 - reference).max()),
        f"{ENCODED_SIGNATURE}/png": float(np.abs(png - reference).max()),
        f"{ENCODED_SIGNATURE}/jpeg": float(np.abs(jpeg - jpeg_reference).max()),
        f"jpeg_q{JPEG_QUALITY}_vs_raw_pixels": float(np.abs(jpeg - reference).max()),
        f"jpeg_q{JPEG_QUALITY}_vs_raw_pixels_mean": float(np.abs(jpeg - reference).mean()),
    }
    if tflite is not None:
        differences[TFLITE_FILE] = float(np.abs(run_tflite(tflite, crops) - reference).max())
    return differences


def check_signatures(differences: dict[str, float]) -> None:
    failed = {k: v for k, v in differences.items() if k in TOLERANCE and v > TOLERANCE[k]}
    if failed:
        raise AssertionError(f"signatures disagree with serving_default beyond tolerance: {failed}")


def described_signatures(differences: dict[str, float] | None, n_crops: int) -> dict[str, Any]:
    described = signatures_description()
    if differences is None:
        return described
    for key, value in differences.items():
        signature = ENCODED_SIGNATURE if key.startswith("jpeg_") else key.split("/")[0]
        entry = described.setdefault(signature, {})
        entry.setdefault("max_abs_diff_vs_serving_default", {})[key] = value
        if key in TOLERANCE:
            entry.setdefault("tolerance", {})[key] = TOLERANCE[key]
        entry["measured_on_crops"] = n_crops
    return described


def add_tflite(out_dir: Path) -> dict[str, float]:
    """Give an existing version its model.tflite, checked against serving_default on the
    warm-up crops, and record the difference in its model card."""
    import tensorflow as tf

    path = write_tflite(out_dir)
    crops = warmup_crops(64, seed=1)
    reference = run_signature(
        tf.saved_model.load(str(out_dir)), "serving_default", to_model_input(crops)
    )
    difference = {TFLITE_FILE: float(np.abs(run_tflite(path, crops) - reference).max())}
    check_signatures(difference)
    card_path = out_dir / "model_card.json"
    if card_path.is_file():
        card = json.loads(card_path.read_text())
        card.setdefault("signatures", {})[TFLITE_FILE] = {
            "runtime": "LiteRT (ai-edge-litert), converted from serving_uint8",
            "max_abs_diff_vs_serving_default": difference,
            "tolerance": {TFLITE_FILE: TOLERANCE[TFLITE_FILE]},
            "measured_on_crops": len(crops),
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    return difference


def version_of(out_dir: Path) -> int:
    if not out_dir.name.isdigit():
        raise ValueError(f"{out_dir} must end in a numeric version folder (TF Serving layout)")
    return int(out_dir.name)


def export_untrained(arch: str, out_dir: Path, seed: int, model_name: str) -> Path:
    import tensorflow as tf

    export_saved_model(ARCHITECTURES[arch](seed=seed), out_dir, model_name=model_name)
    crops = warmup_crops(16, seed=1)
    loaded = tf.saved_model.load(str(out_dir))
    differences = signature_differences(loaded, crops, out_dir / TFLITE_FILE)
    check_signatures(differences)
    signatures = described_signatures(differences, len(crops))
    write_card(out_dir, placeholder_card(model_name, version_of(out_dir), arch, signatures))
    return out_dir


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument("--seed", type=int, default=0, help="initialisation of --arch")
    parser.add_argument("--force", action="store_true", help="replace an existing export")
    parser.add_argument(
        "--add-tflite",
        action="store_true",
        help="only add model.tflite to the existing version --out (checked, recorded in its card)",
    )
    args = parser.parse_args(argv)
    if not args.out.name.isdigit():
        parser.error("--out must end in a numeric version folder, e.g. models/deepfake/1")
    if args.add_tflite:
        print(json.dumps(add_tflite(args.out), indent=2))
        return
    if args.out.exists():
        if not args.force:
            parser.error(f"{args.out} exists; pass --force to replace it")
        shutil.rmtree(args.out)
    if args.run is not None:
        from training.release import export_run, fresh_validation

        extra = json.loads(args.extra.read_text()) if args.extra else None
        val = None
        if args.root is not None:
            cache = args.cache or args.run / "cache"
            val = fresh_validation(args.run, args.root, cache, args.workers)
        card = export_run(
            args.run, args.out, model_name=args.name, reports=args.reports, extra=extra, val=val
        )
        print(json.dumps({k: card[k] for k in ("threshold", "uncertainty_band")}, indent=2))
    else:
        export_untrained(args.arch or "efficientnetb0", args.out, args.seed, args.name)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
