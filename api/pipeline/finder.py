"""Find the faces in each sampled frame of one video, cheaply.

A full-frame Haar search costs 10-35 ms, most of it spent on windows over the face itself
(each passes many cascade stages). So each face found in the previous sampled frame is
followed instead: searched inside a window twice its size, scaled so the face is ~48 px wide,
at sizes near its own (~2.5 ms); when it is not there, a window three times its size and a
wider range of sizes get one more look before it counts as lost. Every `redetect_every` frames,
and whenever a face is lost, the whole frame is searched for new faces with the followed ones
blanked out (~9 ms, what the background costs); the periodic search is skipped while nothing
outside the followed faces changed since the last one. Full searches look at the coarse copy
only, except the first and every `fine_every`-th one, which also look for small faces at full
detection size. The benchmark measures the result against full-resolution detection.
"""

from __future__ import annotations

import cv2
import numpy as np

from api.pipeline.faces import Box, HaarFaceDetector, expand, largest, merge

FOLLOW_WINDOW = 1.0  # the window is the last face grown by 100% (2x its size)
WIDE_WINDOW = 2.0  # when the face is not there: 3x its size,
WIDE_SPREAD = (0.5, 2.0)  # and half to twice its width

# A new face can only appear where the picture changed. The search for new faces is skipped
# when, outside the followed faces (grown by FOLLOW_WINDOW), less than CHANGED_AREA of a small
# grey thumbnail differs by more than CHANGED_LEVEL from the one taken at the last search
# (compared with that one, not the previous frame, so slow changes add up). A face of the
# smallest size the coarse search finds covers ~1.5% of the thumbnail. MAX_SKIPPED bounds how
# long a face that appears right beside a followed one could stay unseen.
THUMB_WIDTH = 96
CHANGED_LEVEL = 16  # grey levels, on pixels averaged over ~20x20 source pixels
CHANGED_AREA = 0.003
MAX_SKIPPED = 3


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
        self._reference: np.ndarray | None = None  # thumbnail at the last full search
        self._reference_faces: list[Box] = []
        self._skipped = 0
        self.full_searches = 0
        self.skipped_searches = 0
        self.followed = 0

    def find(self, bgr: np.ndarray) -> Box | None:
        """The largest face in the frame, in source pixels, or None."""
        return largest(self.find_all(bgr))

    def find_all(self, bgr: np.ndarray) -> list[Box]:
        """Every face in the frame, in source pixels."""
        known: list[Box] = []
        thumb = None
        if self._faces and self.redetect_every > 1:
            known, lost = self._follow(bgr)
            self.followed += bool(known)
            self._since_full += 1
            if not lost and self._since_full < self.redetect_every:
                self._faces = known
                return known
            thumb = _thumbnail(bgr)
            if not lost and self._unchanged(thumb, known, bgr.shape[1], bgr.shape[0]):
                self._faces = known
                self._since_full = 0
                self.skipped_searches += 1
                return known
        # A full search: for new (or lost) faces beside the followed ones, which are blanked
        # so they cost nothing, or for every face when none could be followed.
        fine = self.full_searches % self.fine_every == 0
        search = self.detector.detect_all if fine else self.detector.detect
        self._faces = merge(known, search(bgr, exclude=known))
        self.full_searches += 1
        self._since_full = 0
        self._reference = thumb if thumb is not None else _thumbnail(bgr)
        self._reference_faces, self._skipped = self._faces, 0
        return self._faces

    def _unchanged(self, thumb: np.ndarray, faces: list[Box], width: int, height: int) -> bool:
        """Whether nothing outside the followed faces changed since the last full search."""
        reference = self._reference
        if reference is None or reference.shape != thumb.shape or self._skipped >= MAX_SKIPPED:
            return False
        changed = cv2.absdiff(thumb, reference) > CHANGED_LEVEL
        scale = thumb.shape[1] / width
        for face in [*self._reference_faces, *faces]:
            x, y, w, h = expand(face, width, height, FOLLOW_WINDOW)
            x0, y0 = int(x * scale), int(y * scale)
            changed[y0 : int((y + h) * scale) + 1, x0 : int((x + w) * scale) + 1] = False
        if changed.mean() > CHANGED_AREA:
            return False
        self._skipped += 1
        return True

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


def _thumbnail(bgr: np.ndarray) -> np.ndarray:
    """A THUMB_WIDTH-wide grey copy, each pixel the mean of a patch (every 4th source pixel
    of it, which averages compression noise away at a twentieth of the cost)."""
    height, width = bgr.shape[:2]
    size = (THUMB_WIDTH, max(1, round(height * THUMB_WIDTH / width)))
    small = cv2.resize(bgr[::4, ::4], size, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
