"""Self-blended images: a face-swap-like fake made from one real crop, and its face mask.

After Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022.

A copy of the crop (the "source") is altered in colour, sharpness and position, then pasted back
onto the untouched crop (the "target") through a soft face mask. What remains is exactly what
face swaps leave behind: a blending boundary and a statistics mismatch between the inner face
and its surroundings, with no identity or generator cue to latch onto. Needs only real faces.

There are no facial landmarks here (no landmark model can be downloaded), so the mask is a
jittered ellipse placed where the gateway's crop puts the face: the Haar box, grown by the 0.2
margin, fills the middle 1/1.2 of the crop. Pixels where the mask is 0 are left exactly as they
were (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # as the paper: mostly full blends


@dataclass(frozen=True, slots=True)
class BlendConfig:
    centre_jitter: float = 0.04  # of the crop side
    half_width: tuple[float, float] = (0.26, 0.36)  # ellipse half-axes, of the crop side
    half_height: tuple[float, float] = (0.32, 0.44)
    max_angle: float = 12.0  # degrees
    blur_sigma: tuple[float, float] = (0.5, 3.0)  # softness of the boundary, in pixels
    shift: float = 0.03  # source translation, of the crop side
    scale: tuple[float, float] = (0.95, 1.05)  # source zoom


def face_mask(size: int, rng: np.random.Generator, config: BlendConfig | None = None) -> np.ndarray:
    """A soft elliptical face mask, float32 [size, size] in [0, 1]."""
    c = config or BlendConfig()
    hard = np.zeros((size, size), np.uint8)
    centre = (
        round(size * (0.5 + rng.uniform(-c.centre_jitter, c.centre_jitter))),
        # Haar boxes run from the brows to below the mouth: the face centre sits a bit low.
        round(size * (0.53 + rng.uniform(-c.centre_jitter, c.centre_jitter))),
    )
    axes = (round(size * rng.uniform(*c.half_width)), round(size * rng.uniform(*c.half_height)))
    angle = float(rng.uniform(-c.max_angle, c.max_angle))
    cv2.ellipse(hard, centre, axes, angle, 0, 360, 1, thickness=-1)
    sigma = float(rng.uniform(*c.blur_sigma))
    soft = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), sigma)
    # Blurring a hard edge lets the mask leak everywhere at ~1e-30; cut the tail so "outside the
    # mask" means really untouched.
    soft[soft < 1e-3] = 0.0
    mask: np.ndarray = soft / max(float(soft.max()), 1e-6)
    return mask


def alter_source(crop: np.ndarray, rng: np.random.Generator, config: BlendConfig) -> np.ndarray:
    """The source copy: colour, frequency and geometry changed a little (uint8 RGB)."""
    image: np.ndarray = crop.astype(np.float32)
    # Colour: per-channel shift, then brightness/contrast.
    image += rng.uniform(-20, 20, size=3).astype(np.float32)
    image = (image - 128.0) * rng.uniform(0.85, 1.15) + 128.0 + rng.uniform(-15, 15)
    # Frequency: blur or sharpen, as different capture/render pipelines would.
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2))
    else:
        soft = cv2.GaussianBlur(image, (0, 0), 1.0)
        image = image + rng.uniform(0.3, 1.0) * (image - soft)
    # Geometry: a small zoom and shift, so the inner face no longer lines up with the outer.
    size = crop.shape[0]
    zoom = rng.uniform(*config.scale)
    dx, dy = rng.uniform(-config.shift, config.shift, size=2) * size
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 0.0, zoom)
    matrix[:, 2] += (dx, dy)
    image = cv2.warpAffine(image, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
    out: np.ndarray = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return out


def self_blend(
    crop: np.ndarray, rng: np.random.Generator, config: BlendConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(fake uint8 RGB crop, the mask used): target outside the mask, altered source inside."""
    c = config or BlendConfig()
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[0] != crop.shape[1]:
        raise ValueError(f"expected a square uint8 RGB crop, got {crop.dtype} {crop.shape}")
    mask = face_mask(crop.shape[0], rng, c) * float(rng.choice(BLEND_RATIOS))
    source = alter_source(crop, rng, c).astype(np.float32)
    target = crop.astype(np.float32)
    weight = mask[..., None]
    blended = weight * source + (1.0 - weight) * target
    out: np.ndarray = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out, mask


def self_blend_batch(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fresh self-blend of every crop in a uint8 [N, S, S, 3] batch."""
    return np.stack([self_blend(crop, rng)[0] for crop in crops]) if len(crops) else crops.copy()
