"""Find the faces in each sampled frame of one video, cheaply.

A full-frame Haar search costs 10-35 ms, most of it spent on windows over the face itself
(each passes many cascade stages). So each face found in the previous sampled frame is
followed instead: searched inside a window twice its size, scaled so the face is ~48 px wide,
at sizes near its own (~2.5 ms); when it is not there, a window three times its size and a
wider range of sizes get one more look before it counts as lost. Every `redetect_every` frames,
and whenever a face is lost, the whole frame is searched for new faces with the followed ones
blanked out (~9 ms, what the background costs). Full searches look at the coarse copy only,
except the first and every `fine_every`-th one, which also look for small faces at full
detection size. The benchmark measures the result against full-resolution detection.
"""

from __future__ import annotations

import numpy as np

from api.pipeline.faces import Box, HaarFaceDetector, expand, largest, merge

FOLLOW_WINDOW = 0.6  # the window is the last face grown by 100% (2x its size)
WIDE_WINDOW = 2.0  # when the face is not there: 3x its size,
WIDE_SPREAD = (0.5, 2.0)  # and half to twice its width


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
        known: list[Box] = []
        if self._faces and self.redetect_every > 1:
            known, lost = self._follow(bgr)
            self.followed += bool(known)
            self._since_full += 1
            if not lost and self._since_full < self.redetect_every:
                self._faces = known
                return known
        # A full search: for new (or lost) faces beside the followed ones, which are blanked
        # so they cost nothing, or for every face when none could be followed.
        fine = self.full_searches % self.fine_every == 0
        search = self.detector.detect_all if fine else self.detector.detect
        self._faces = merge(known, search(bgr, exclude=known))
        self.full_searches += 1
        self._since_full = 0
        return self._faces

    def _follow(self, bgr: np.ndarray) -> tuple[list[Box], bool]:
        """The followed faces found in this frame, and whether any was lost."""
        height, width = bgr.shape[:2]
        found: list[Box] = []
        lost = False
        for face in self._faces:
            window = expand(face, width, height, FOLLOW_WINDOW)
            near = self.detector.detect_near(bgr, window, face[2])
            if not near:  # moved or grew faster than usual: a wider look, still cheap
                window = expand(face, width, height, WIDE_WINDOW)
                near = self.detector.detect_near(bgr, window, face[2], WIDE_SPREAD)
            box = largest(near)
            if box is None:
                lost = True
            else:
                found = merge(found, [box])  # two windows may see the same face
        return found, lost
