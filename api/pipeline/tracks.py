"""Link faces across sampled frames into tracks: one track per person, by position and size.

Sampled frames are ~0.5 s apart, so a face may move well beyond its own box between them;
boxes are matched greedily, closest first, when their centres are within one face width and
their sizes within 2x. Nothing finer is needed to tell an interviewer from a guest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from api.pipeline.faces import Box

MAX_CENTRE_DISTANCE = 1.0  # in face widths
MAX_SIZE_RATIO = 2.0
MAX_GAP_FRAMES = 4  # a track survives this many sampled frames without its face


@dataclass(slots=True)
class Track:
    id: int
    members: list[tuple[int, int]] = field(default_factory=list)  # (frame pos, face pos)
    boxes: list[Box] = field(default_factory=list)
    last_frame: int = -1


def _distance(a: Box, b: Box) -> float:
    """Centre distance in face widths, or inf when the sizes are too different."""
    ratio = max(a[2], b[2]) / max(1, min(a[2], b[2]))
    if ratio > MAX_SIZE_RATIO:
        return math.inf
    dx = (a[0] + a[2] / 2) - (b[0] + b[2] / 2)
    dy = (a[1] + a[3] / 2) - (b[1] + b[3] / 2)
    return math.hypot(dx, dy) / max(a[2], b[2])


def link(frames: list[list[Box]]) -> list[Track]:
    """Tracks over the faces of each sampled frame (in order); every face is in one track."""
    tracks: list[Track] = []
    for position, boxes in enumerate(frames):
        alive = [t for t in tracks if position - t.last_frame <= MAX_GAP_FRAMES]
        pairs = sorted(
            (_distance(t.boxes[-1], box), ti, fi)
            for ti, t in enumerate(alive)
            for fi, box in enumerate(boxes)
        )
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        for distance, ti, fi in pairs:
            if distance > MAX_CENTRE_DISTANCE or ti in used_tracks or fi in used_faces:
                continue
            _extend(alive[ti], position, fi, boxes[fi])
            used_tracks.add(ti)
            used_faces.add(fi)
        for fi, box in enumerate(boxes):
            if fi not in used_faces:
                track = Track(id=len(tracks))
                _extend(track, position, fi, box)
                tracks.append(track)
    return tracks


def _extend(track: Track, frame: int, face: int, box: Box) -> None:
    track.members.append((frame, face))
    track.boxes.append(box)
    track.last_frame = frame
