from __future__ import annotations

from pathlib import Path

import pytest

from api.errors import UnsupportedMedia
from api.pipeline.decode import open_video, probe, sample_frames, sampling_step


@pytest.mark.parametrize(
    ("src_fps", "target_fps", "step"),
    [
        (25.0, 2.0, 12),  # 12.5 rounds half to even
        (30.0, 2.0, 15),
        (29.97, 2.0, 15),
        (10.0, 2.0, 5),
        (10.0, 10.0, 1),
        (10.0, 30.0, 1),  # asking for more than the source has keeps every frame
        (0.0, 5.0, 5),  # no declared rate: stepped as if 25 fps
        (60.0, 0.5, 120),
    ],
)
def test_sampling_step(src_fps: float, target_fps: float, step: int) -> None:
    assert sampling_step(src_fps, target_fps) == step


def test_sampling_step_rejects_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        sampling_step(25.0, 0.0)


def test_probe_reads_the_container(videos: dict[str, Path]) -> None:
    with open_video(videos["faces"]) as cap:
        info = probe(cap)
    assert (info.src_fps, info.total_frames, info.width, info.height) == (10.0, 40, 640, 360)


@pytest.mark.parametrize(
    ("target_fps", "max_frames", "times"),
    [
        (2.0, 256, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]),
        (1.0, 256, [0.0, 1.0, 2.0, 3.0]),
        (5.0, 256, [i * 0.2 for i in range(20)]),
        (10.0, 256, [i * 0.1 for i in range(40)]),
        (2.0, 3, [0.0, 0.5, 1.0]),  # the cap stops sampling
        (100.0, 5, [0.0, 0.1, 0.2, 0.3, 0.4]),
    ],
)
def test_sample_frames_times_and_counts(
    videos: dict[str, Path], target_fps: float, max_frames: int, times: list[float]
) -> None:
    with open_video(videos["faces"]) as cap:
        step = sampling_step(probe(cap).src_fps, target_fps)
        frames = list(sample_frames(cap, step, max_frames))
    assert [f.t for f in frames] == pytest.approx(times, abs=1e-6)
    assert [f.index for f in frames] == [i * step for i in range(len(times))]
    assert all(f.image.shape == (360, 640, 3) for f in frames)


def test_timestamps_come_from_the_decoder(videos: dict[str, Path]) -> None:
    """At 25 fps a step of 12 gives t = 0.48 s per step, not the 0.5 s that was asked for."""
    with open_video(videos["hd"]) as cap:
        frames = list(sample_frames(cap, sampling_step(25.0, 2.0), 256))
    assert [f.t for f in frames] == pytest.approx([0.0, 0.48, 0.96, 1.44, 1.92], abs=1e-6)


@pytest.mark.parametrize(
    "content",
    [b"", b"this is not a video, just text\n" * 100, b"%PDF-1.4\n" + bytes(range(256)) * 64],
    ids=["empty", "text", "pdf"],
)
def test_open_video_rejects_non_video(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMedia, match="could not be opened as a video"), open_video(path):
        pass
