"""Where face search spends its CPU: per kind of search, over every sampled frame of some clips.

    python -m bench.search bench-out/clips          # the benchmark's clips
    python -m bench.search ../shared/data/videos    # the data set's 39 clips

Single-threaded OpenCV, frames decoded first, so only the search itself is timed (CPU time of
this process).
"""

from __future__ import annotations

import argparse
import resource
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from api.pipeline import finder as finder_module
from api.pipeline.decode import open_video, probe, sample_frames, sampling_step
from api.pipeline.extract import _sampled
from api.pipeline.faces import HaarFaceDetector
from api.pipeline.finder import FaceFinder
from settings import Settings


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = _cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + _cpu() - started
                self.calls[name] += 1

        return timed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", type=Path, help="a folder searched for *.mp4")
    args = parser.parse_args(argv)
    settings = Settings(_env_file=None)
    cv2.setNumThreads(1)
    timings = Timings()
    detector = HaarFaceDetector()
    for name in ("detect", "detect_all", "detect_near"):
        setattr(detector, name, timings.wrap(name, getattr(detector, name)))
    thumbnail = finder_module._thumbnail
    finder_module._thumbnail = timings.wrap("thumbnail", thumbnail)
    crop = timings.wrap("crops", _sampled)
    clips = sorted(args.clips.rglob("*.mp4"))
    frames = searches = 0
    try:
        for path in clips:
            with open_video(path) as cap:
                step = sampling_step(probe(cap).src_fps, settings.DEFAULT_FPS)
                sampled = list(sample_frames(cap, step, settings.MAX_FRAMES))
            finder = FaceFinder(detector, settings.REDETECT_EVERY)
            for frame in sampled:
                crop(frame, finder.find_all(frame.image), settings.FACE_MARGIN, 64)
            frames += len(sampled)
            searches += finder.full_searches
    finally:
        finder_module._thumbnail = thumbnail
    total = sum(timings.seconds.values())
    print(f"{len(clips)} clips, {frames} sampled frames, {searches} full searches")
    for name, seconds in sorted(timings.seconds.items(), key=lambda kv: -kv[1]):
        calls = timings.calls[name]
        each = 1000 * seconds / calls
        print(f"{name:12} {calls:5} calls {1000 * seconds:8.0f} ms {each:6.1f} ms/call")
    per_clip = 1000 * total / max(1, len(clips))
    print(f"{'total':12} {'':11} {1000 * total:8.0f} ms {per_clip:6.0f} ms/clip")


if __name__ == "__main__":
    main()
