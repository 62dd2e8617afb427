"""Is a face crop good enough to judge? Brightness and sharpness of the 64x64 crops."""

from __future__ import annotations

import cv2
import numpy as np

DARK_MEAN = 40.0  # mean luminance (0-255) below which a face is too dark to judge
BLUR_VARIANCE = 30.0  # variance of the Laplacian below which a 64x64 face is too blurry


def brightness(crop: np.ndarray) -> float:
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(grey.mean())


def sharpness(crop: np.ndarray) -> float:
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())
