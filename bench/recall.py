"""Face recall of the gateway's detection against full-resolution Haar on every frame.

The benchmark's own clips are easy (one large face throughout), so recall is also measured,
in-process, on every clip of ../shared/data/videos at the default fps: for each sampled frame,
whether a face was found by the project's detector (coarse-to-fine, following, skipped searches)
and by the original approach (the cascade on the full-resolution frame, every frame searched).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from api.pipeline.extract import extract_faces
from api.pipeline.faces import DetectorConfig, HaarFaceDetector
from settings import Settings


@dataclass(frozen=True)
class ClipRecall:
    clip: str
    frames: int
    ours: int  # sampled frames with a face found
    full: int


def measure(videos: Path, settings: Settings) -> dict[str, Any] | None:
    clips = sorted(videos.rglob("*.mp4"))
    if not clips:
        return None
    ours = HaarFaceDetector(
        DetectorConfig(max_side=settings.DETECT_MAX_SIDE, min_face=settings.MIN_FACE_PX)
    )
    full = HaarFaceDetector(DetectorConfig(max_side=0, min_face=settings.MIN_FACE_PX))
    rows = []
    for clip in clips:
        found = [
            extract_faces(
                clip,
                target_fps=settings.DEFAULT_FPS,
                max_frames=settings.MAX_FRAMES,
                detector=detector,
                margin=settings.FACE_MARGIN,
                redetect_every=redetect_every,
            )
            for detector, redetect_every in ((ours, settings.REDETECT_EVERY), (full, 1))
        ]
        rows.append(
            ClipRecall(
                clip.name, found[0].sampled_frames, found[0].face_frames, found[1].face_frames
            )
        )
    frames = sum(r.frames for r in rows)
    return {
        "clips": len(rows),
        "frames": frames,
        "ours_pct": 100 * sum(r.ours for r in rows) / frames,
        "full_pct": 100 * sum(r.full for r in rows) / frames,
        "worst_clip_gap_pp": max(100 * abs(r.ours - r.full) / max(1, r.frames) for r in rows),
        "per_clip": [asdict(r) for r in rows],
    }
