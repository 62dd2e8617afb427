"""What reading provenance costs: api.provenance.inspect on a typical image and a 100 MB video.

    python -m bench.provenance --out bench-out        (also run by `make bench`, bench.run)

The video is real and decodable: 1080p frames of noise (so that the encoder cannot shrink
them) written by OpenCV until the file passes 100 MB, then checked frame by frame. The image
is the astronaut photo on a grainy 1920x1080 canvas as a JPEG (~1 MB, a camera's size). Each
is timed unsigned and, when the C2PA test signer (tests/support/provenance.py) is there,
signed as a camera capture (then c2pa hashes the whole file to check it). Medians of
--repeat calls. Provenance runs alongside extraction on the worker pool, so what it adds to a
/predict answer is whatever it takes beyond extraction: one /predict of the signed video
through the app, in process, logs both stage times. Prints the numbers and writes
bench-out/provenance.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from api import provenance
from api.pipeline.sniff import MediaKind, sniff_file
from settings import PROJECT_ROOT, Settings
from tests.support.videos import astronaut_bgr

VIDEO_BYTES = 100 * 10**6
WIDTH, HEIGHT, FPS = 1920, 1080, 25


def big_video(path: Path, size: int = VIDEO_BYTES) -> Path:
    """A real MP4 of at least `size` bytes: noise frames, which MPEG-4 cannot compress."""
    if path.exists() and path.stat().st_size >= size:
        return path
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v to {path}")
    frames = 0
    try:
        # The writer flushes as it goes: the size on disk trails by a frame or two.
        while not path.exists() or path.stat().st_size < size:
            writer.write(rng.integers(0, 256, (HEIGHT, WIDTH, 3), np.uint8))
            frames += 1
    finally:
        writer.release()
    if decodable_frames(path) != frames:
        raise RuntimeError(f"{path}: wrote {frames} frames, decoded another number")
    return path


def decodable_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    count = 0
    while cap.grab():
        count += 1
    cap.release()
    return count


def typical_image(path: Path) -> Path:
    """A 1080p photo-sized JPEG (~1 MB): the astronaut on a grainy background, as sensor
    noise makes a camera's files."""
    rng = np.random.default_rng(1)
    canvas = rng.normal(110, 25, (HEIGHT, WIDTH, 3)).clip(0, 255).astype(np.uint8)
    canvas[284:796, 704:1216] = astronaut_bgr()
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def timed(call: Callable[[], provenance.ProvenanceReport], repeat: int) -> dict[str, Any]:
    walls, reports = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        reports.append(call())
        walls.append(time.perf_counter() - started)
    last = reports[-1]
    return {
        "median_ms": statistics.median(walls) * 1000,
        "max_ms": max(walls) * 1000,
        "reported_seconds": last.seconds,
        "summary": last.summary,
        "error": None if last.error is None else last.error.code,
    }


def measure(path: Path, settings: Settings, repeat: int) -> dict[str, Any]:
    sniffed = sniff_file(path)  # the format name as the service hands it over
    kind: Literal["video", "image"] = "image" if sniffed.kind is MediaKind.IMAGE else "video"

    def call() -> provenance.ProvenanceReport:
        return provenance.inspect(path, kind=kind, format=sniffed.format, settings=settings)

    return {"bytes": path.stat().st_size, **timed(call, repeat)}


def signer() -> Callable[[Path, Path], Path] | None:
    """Signs a file as a camera would (tests.support.provenance: a throwaway test CA), when
    the test support is there (a dev install)."""
    try:
        from tests.support import provenance as fixtures
    except ImportError:
        return None
    pki = fixtures.make_pki()
    mimes = {"JPEG": "image/jpeg", "MP4/QuickTime": "video/mp4"}

    def sign(source: Path, target: Path) -> Path:
        mime = mimes[sniff_file(source).format]
        definition = fixtures.manifest(fixtures.created(fixtures.CAPTURE))
        target.write_bytes(fixtures.sign(pki, source.read_bytes(), mime, definition))
        return target

    return sign


def predict_stages(video: Path, settings: Settings) -> dict[str, Any]:
    """One /predict of `video` in process: the access log's stage times."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    lines: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    access = logging.getLogger("api.access")
    handler = Capture()
    access.addHandler(handler)
    try:
        with TestClient(create_app(settings)) as client, video.open("rb") as f:
            response = client.post("/predict", files={"file": (video.name, f)})
    finally:
        access.removeHandler(handler)
    keys = ("decode_ms", "detect_ms", "score_ms", "provenance_ms", "duration_ms", "provenance")
    line = lines[-1] if lines else {}
    return {"status": response.status_code, **{k: line.get(k) for k in keys}}


def run(out: Path, repeat: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(_env_file=None, MODEL_BASE_PATH=PROJECT_ROOT / "models", UPLOAD_DIR=out)
    video = big_video(out / "provenance-100mb.mp4")
    image = typical_image(out / "provenance-image.jpg")
    result: dict[str, Any] = {
        "image": measure(image, settings, repeat),
        "video_100mb": measure(video, settings, repeat),
    }
    sign = signer()
    if sign is not None:
        signed_image = sign(image, out / "provenance-image-signed.jpg")
        signed_video = sign(video, out / "provenance-100mb-signed.mp4")
        result["image_signed"] = measure(signed_image, settings, repeat)
        result["video_100mb_signed"] = measure(signed_video, settings, repeat)
        video = signed_video
    result["predict_100mb"] = predict_stages(video, settings)
    (out / "provenance.json").write_text(json.dumps(result, indent=2))
    return result


def lines(result: dict[str, Any]) -> list[str]:
    rows = []
    for name, r in result.items():
        if name == "predict_100mb":
            continue
        rows.append(
            f"provenance.inspect, {name} ({r['bytes'] / 1e6:.1f} MB): median "
            f"{r['median_ms']:.1f} ms, max {r['max_ms']:.1f} ms ({r['summary']}"
            f"{', error ' + r['error'] if r['error'] else ''})"
        )
    p = result["predict_100mb"]
    rows.append(
        f"/predict of the 100 MB video: HTTP {p['status']}, {p['duration_ms']} ms in all; decode "
        f"{p['decode_ms']} ms, detect {p['detect_ms']} ms, provenance {p['provenance_ms']} ms "
        "(alongside decoding, on the worker pool)"
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench-out")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.out, args.repeat)
    print("\n".join(lines(result)))
    print(f"\nwrote {args.out / 'provenance.json'}")


if __name__ == "__main__":
    main()
