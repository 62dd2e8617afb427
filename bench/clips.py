"""Benchmark clips: 720p and 1080p H.264 with a face in every frame.

From real talking-head clips in ../shared/data/videos when they are there (scaled onto a
720p/1080p canvas with FFmpeg), otherwise from the astronaut photo moving across the frame.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from settings import PROJECT_ROOT
from tests.support.videos import make_video

SHARED_VIDEOS = PROJECT_ROOT.parent / "shared" / "data" / "videos" / "real"
REAL_CLIPS = ["RD_Radio2_000.mp4", "WDA_KatieHill_000.mp4"]
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
SECONDS = 8


def h264(source: Path, out: Path, width: int, height: int, face_height: float) -> Path:
    """Scale `source` to face_height of the canvas, centre it on a grey WxH canvas, H.264."""
    inner = round(height * face_height / 2) * 2
    vf = f"scale=-2:{inner},pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=0x5a5a5a"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), "-t", str(SECONDS),
         "-vf", vf, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
         "-pix_fmt", "yuv420p", "-r", "25", str(out)],
        check=True,
    )  # fmt: skip
    return out


def make_clips(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    have_ffmpeg = shutil.which("ffmpeg") is not None
    sources = [SHARED_VIDEOS / name for name in REAL_CLIPS if (SHARED_VIDEOS / name).is_file()]
    clips = []
    if have_ffmpeg and sources:
        for source in sources:
            for label, (width, height) in SIZES.items():
                out = folder / f"{source.stem}_{label}.mp4"
                clips.append(out if out.exists() else h264(source, out, width, height, 0.75))
        return clips
    for label, (width, height) in SIZES.items():
        raw = folder / f"astronaut_{label}_mp4v.mp4"
        if not raw.exists():
            make_video(raw, seconds=SECONDS, fps=25, width=width, height=height)
        if have_ffmpeg:
            out = folder / f"astronaut_{label}.mp4"
            clips.append(out if out.exists() else h264(raw, out, width, height, 1.0))
        else:
            clips.append(raw)  # MPEG-4 part 2: no H.264 encoder without FFmpeg
    return clips
