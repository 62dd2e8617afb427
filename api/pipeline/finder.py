"""Find the faces in each sampled frame of one video, cheaply.

A full-frame Haar search costs 20-60 ms (a face-filled frame is the expensive case: every
window over the face passes many cascade stages). Following each face found in the previous
sampled frame, inside a window twice its size scaled so the face is ~48 px wide, costs ~5 ms.
The full search still runs every `redetect_every` frames (so faces that walk in are found) and
whenever a followed face is lost. Full searches look at the coarse copy only, except the first
and every `fine_every`-th one, which also search at full detection size for smaller faces
beside big ones; those are followed from then on like the others. The benchmark measures the
result against full-resolution detection on every frame.
"""

from __future__ import annotations

import numpy as np

from api.pipeline.faces import Box, HaarFaceDetector, expand, largest, merge

FOLLOW_WINDOW = 1.0  # the window is the last face grown by 100% (2x its size)


class FaceFinder:
    """Stateful, one per video; not thread-safe (one video is read by one thread)."""

    def __init__(
        self, detector: HaarFaceDetector, redetect_every: int, fine_every: int = 8
    ) -> None:
        self.detector = detector
        self.redetect_every = redetect_every  # 1: a full search on every frame
        self.fine_every = fine_every
        self._faces: list[Box] = []
        self._since_full = 0
        self.full_searches = 0
        self.followed = 0

    def find(self, bgr: np.ndarray) -> Box | None:
        """The largest face in the frame, in source pixels, or None."""
        return largest(self.find_all(bgr))

    def find_all(self, bgr: np.ndarray) -> list[Box]:
        """Every face in the frame, in source pixels."""
        followed = self._follow(bgr) if self._faces and self.redetect_every > 1 else None
        if followed is not None:
            self.followed += 1
            self._since_full += 1
            self._faces = followed
            if self._since_full < self.redetect_every:
                return followed
        # A full search: for new faces only, beside the followed ones (blanked, so cheap), or,
        # when there is nothing to follow or a face was lost, for every face.
        known = followed or []
        fine = self.full_searches % self.fine_every == 0
        search = self.detector.detect_all if fine else self.detector.detect
        self._faces = merge(known, search(bgr, exclude=known))
        self.full_searches += 1
        self._since_full = 0
        return self._faces

    def _follow(self, bgr: np.ndarray) -> list[Box] | None:
        """The followed faces in this frame, or None as soon as one is lost."""
        height, width = bgr.shape[:2]
        found: list[Box] = []
        for face in self._faces:
            window = expand(face, width, height, FOLLOW_WINDOW)
            box = largest(self.detector.detect_near(bgr, window, face[2]))
            if box is None:
                return None
            found = merge(found, [box])  # two windows may see the same face
        return found
