"""Find the face in each sampled frame of one video, cheaply.

A full-frame Haar search costs 20-60 ms (a face-filled frame is the expensive case: every
window over the face passes many cascade stages). Following the face found in the previous
sampled frame, inside a window twice its size scaled so the face is ~48 px wide, costs ~5 ms.
The full search still runs every `redetect_every` frames (so a bigger face that walks in is
found) and whenever the followed face is lost, so recall stays that of the full search
(measured by the benchmark against full-resolution detection).
"""

from __future__ import annotations

import numpy as np

from api.pipeline.faces import Box, HaarFaceDetector, expand, largest

FOLLOW_WINDOW = 1.0  # the window is the last face grown by 100% (2x its size)


class FaceFinder:
    """Stateful, one per video; not thread-safe (one video is read by one thread)."""

    def __init__(self, detector: HaarFaceDetector, redetect_every: int) -> None:
        self.detector = detector
        self.redetect_every = redetect_every  # 0 or 1: a full search on every frame
        self._last: Box | None = None
        self._since_full = 0
        self.full_searches = 0
        self.followed = 0

    def find(self, bgr: np.ndarray) -> Box | None:
        """The largest face in the frame, in source pixels, or None."""
        if self._last is not None and 0 < self._since_full < self.redetect_every:
            height, width = bgr.shape[:2]
            window = expand(self._last, width, height, FOLLOW_WINDOW)
            box = largest(self.detector.detect_near(bgr, window, self._last[2]))
            if box is not None:
                self.followed += 1
                self._since_full += 1
                self._last = box
                return box
        box = largest(self.detector.detect(bgr))
        self.full_searches += 1
        self._since_full = 1
        self._last = box
        return box
