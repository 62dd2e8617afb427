"""Tiny labelled data for the training side: real face crops, "fakes" and media folders.

Reals are the astronaut photo (skimage, public domain) at varying sizes, positions and
brightness, cropped by the gateway's own detector and crop functions. Fakes get a fixed,
learnable manipulation inside the face (colour channels rotated and the face blurred), so a
tiny network can tell them apart within an epoch or two.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from api.pipeline.faces import HaarFaceDetector, crop, expand, largest
from tests.support.videos import astronaut_bgr, blank_frame, face_frame, write_video
from training.cropset import CropSet


def scene(rng: np.random.Generator, width: int = 320, height: int = 240) -> np.ndarray:
    """The photo at a random size and place on a gradient, with a random brightness."""
    frame = blank_frame(width, height)
    side = int(rng.integers(170, height - 4))
    x = int(rng.integers(0, width - side))
    y = int(rng.integers(0, height - side))
    photo = cv2.resize(astronaut_bgr(), (side, side), interpolation=cv2.INTER_AREA)
    frame[y : y + side, x : x + side] = photo
    gain = rng.uniform(0.8, 1.2)
    out: np.ndarray = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return out


def manipulate(bgr: np.ndarray) -> np.ndarray:
    """The test's "deepfake": the middle of the image recoloured and blurred."""
    out = bgr.copy()
    h, w = out.shape[:2]
    y0, y1, x0, x1 = h // 4, 3 * h // 4, w // 4, 3 * w // 4
    inner = out[y0:y1, x0:x1][..., [1, 2, 0]]
    out[y0:y1, x0:x1] = cv2.GaussianBlur(inner, (0, 0), 2.0)
    return out


def face_crops(count: int, seed: int = 0) -> np.ndarray:
    """`count` RGB uint8 crops of the astronaut, cut and sized as the gateway cuts them."""
    rng = np.random.default_rng(seed)
    detector = HaarFaceDetector()
    crops: list[np.ndarray] = []
    while len(crops) < count:
        frame = scene(rng)
        box = largest(detector.detect(frame))
        if box is None:
            continue
        crops.append(crop(frame, expand(box, frame.shape[1], frame.shape[0], 0.2)))
    return np.stack(crops)


def fake_crops(crops: np.ndarray) -> np.ndarray:
    return np.stack([manipulate(c) for c in crops])


def tiny_cropset(n_per_class: int = 24, groups: int = 6, seed: int = 0) -> CropSet:
    """Real and fake crops, `groups` items per class with equal numbers of crops each."""
    reals = face_crops(n_per_class, seed)
    fakes = fake_crops(face_crops(n_per_class, seed + 1))
    per_item = n_per_class // groups
    items = 2 * groups
    return CropSet(
        crops=np.concatenate([reals, fakes]),
        item=np.repeat(np.arange(items, dtype=np.int32), per_item),
        times=np.zeros(2 * n_per_class, np.float32),
        confident=np.ones(2 * n_per_class, bool),
        paths=np.array([f"/data/{'real' if i < groups else 'fake'}/{i}.mp4" for i in range(items)]),
        item_labels=np.array([0] * groups + [1] * groups, np.int8),
        groups=np.array([f"g{i}" for i in range(items)]),
        sources=np.array(["tiny"] * items),
        sampled=np.full(items, per_item, np.int32),
    )


def write_media_folder(root: Path) -> Path:
    """root/real/{clip.mp4, photo.png} and root/fake/{clip.mp4, photo.png}; faces everywhere."""
    for label in ("real", "fake"):
        folder = root / label
        folder.mkdir(parents=True)
        frames = [face_frame(i, 20) for i in range(20)]
        if label == "fake":
            frames = [manipulate(f) for f in frames]
        write_video(folder / "clip.mp4", frames, fps=10)
        still = scene(np.random.default_rng(7), 480, 360)
        cv2.imwrite(str(folder / "photo.png"), manipulate(still) if label == "fake" else still)
    return root
