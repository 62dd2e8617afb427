"""Where and why decoding stops: the bound on the walk, dropped frames, truncated files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from api.pipeline.decode import (
    FrameSampler,
    VideoInfo,
    WalkEnd,
    open_video,
    probe,
    sampling_step,
)
from api.pipeline.extract import FaceCrop, FaceSamples, SampledFrame, extract_faces
from api.pipeline.faces import HaarFaceDetector
from api.pipeline.verdict import TRUNCATED_BELOW, assess, decoded_share
from tests.support.videos import cut, make_avi

DROPPED = Path(__file__).parent / "media" / "dropped_frames.ogv"


def walk(path: Path, target_fps: float, max_frames: int = 256) -> tuple[FrameSampler, int]:
    """The sampler after its walk, and how many frames the capture itself says it decoded."""
    with open_video(path) as cap:
        info = probe(cap)
        step = sampling_step(info.src_fps, target_fps)
        sampler = FrameSampler(cap, step, max_frames, info.total_frames)
        list(sampler)
        return sampler, int(cap.get(cv2.CAP_PROP_POS_FRAMES))


@pytest.fixture(scope="module")
def avi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s at 10 fps, Motion JPEG in AVI (40 frames)."""
    return make_avi(tmp_path_factory.mktemp("avi") / "clip.avi", seconds=4, fps=10)


@pytest.mark.parametrize(
    ("target_fps", "max_frames", "reason", "walked"),
    [
        (1e-9, 256, "past_end", 1),  # one sample; the next would be frame 10^10 of 40
        (0.01, 256, "past_end", 1),
        (0.2, 256, "past_end", 1),  # every 50th frame
        (0.3, 256, "past_end", 34),  # every 33rd: 0 and 33, then 66
        (0.25, 256, "decoder_ended", 40),  # every 40th: 40 is within the 10% margin (44)
        (2.0, 256, "decoder_ended", 40),
        (2.0, 3, "max_frames", 11),  # samples 0, 5, 10
    ],
)
def test_the_walk_stops_where_no_further_sample_can_be(
    avi: Path, target_fps: float, max_frames: int, reason: str, walked: int
) -> None:
    sampler, decoded = walk(avi, target_fps, max_frames)
    assert sampler.end is not None
    assert (sampler.end.reason, sampler.end.frames_walked, decoded) == (reason, walked, walked)


def test_without_a_declared_count_the_walk_goes_to_the_end(avi: Path) -> None:
    with open_video(avi) as cap:
        sampler = FrameSampler(cap, step=10**10, max_frames=256)
        assert [f.index for f in sampler] == [0]
    assert sampler.end is not None
    assert (sampler.end.reason, sampler.end.frames_walked) == ("decoder_ended", 40)
    assert sampler.end.last_t == pytest.approx(3.9)


def test_a_tiny_rate_decodes_one_frame_through_extract(avi: Path) -> None:
    s = extract_faces(avi, target_fps=1e-9, max_frames=256, detector=HaarFaceDetector(), margin=0.2)
    assert s.sampled_frames == 1
    assert s.end is not None
    assert (s.end.reason, s.end.frames_walked) == ("past_end", 1)
    assert decoded_share(s) is None  # a stop for want of samples is no truncation


def test_frames_the_decoder_drops_do_not_end_the_stream() -> None:
    """Theora writes repeated frames as empty packets: grab() fails on those positions (the
    first at position 1) and succeeds after. Stopping there decoded 1 frame of 30."""
    with open_video(DROPPED) as cap:
        info = probe(cap)
        sampler = FrameSampler(cap, step=5, max_frames=256)
        frames = list(sampler)
    assert info.total_frames == 30
    assert sampler.end is not None
    assert (sampler.end.reason, sampler.end.frames_walked) == ("decoder_ended", 30)
    # One sample per 5 positions, the first decodable one at or after each multiple of 5.
    assert [f.index // 5 for f in frames] == [0, 1, 2, 3, 4, 5]
    assert frames[-1].t == pytest.approx(2.5, abs=0.11)


@pytest.mark.parametrize(
    ("keep", "truncated"),
    [(1.0, False), (0.95, False), (0.5, True), (0.2, True), (0.08, True)],
)
def test_a_cut_file_is_truncated(avi: Path, tmp_path: Path, keep: float, truncated: bool) -> None:
    s = extract_faces(
        cut(avi, keep, tmp_path / "cut.avi"),
        target_fps=2,
        max_frames=256,
        detector=HaarFaceDetector(),
        margin=0.2,
    )
    share = decoded_share(s)
    assert share is not None
    assert share == pytest.approx(keep, abs=0.1)
    assert (share < TRUNCATED_BELOW) is truncated
    codes = [
        r.code for r in assess(s, [[0.9] * len(f.faces) for f in s.frames], 0.5, (0.5, 0.5)).reasons
    ]
    assert ("truncated_input" in codes) is truncated


def faces(n: int) -> FaceSamples:
    """n sampled frames 0.5 s apart, each with one sharp mid-grey face, of a declared 10 s."""
    s = FaceSamples(info=VideoInfo(10.0, 100, 640, 360), step=5)
    crop = np.full((64, 64, 3), 128, np.uint8)
    crop[::2, ::2] = 200  # sharp enough
    for i in range(n):
        s.frames.append(SampledFrame(i * 5, i * 0.5, [FaceCrop((100, 100, 80, 80), crop)]))
    return s


@pytest.mark.parametrize(
    ("end", "info", "share", "message"),
    [
        (
            WalkEnd("decoder_ended", 20, 1.9),
            VideoInfo(10.0, 200, 640, 360),
            0.1,
            "2.0 s of the declared 20.0 s could be decoded (10%)",
        ),
        (
            WalkEnd("decoder_ended", 89, 8.8),
            VideoInfo(10.0, 100, 640, 360),
            0.89,
            "8.9 s of the declared 10.0 s",
        ),
        (WalkEnd("decoder_ended", 90, 8.9), VideoInfo(10.0, 100, 640, 360), 0.9, None),
        (
            WalkEnd("decoder_ended", 30, None),
            VideoInfo(0.0, 100, 640, 360),
            0.3,
            "30 of the declared 100 frames",
        ),
        # Variable rate: fewer frames than duration x nominal rate, timestamps to the end.
        (WalkEnd("decoder_ended", 16, 2.3), VideoInfo(10.0, 24, 640, 360), 1.0, None),
        (WalkEnd("decoder_ended", 120, 11.9), VideoInfo(10.0, 100, 640, 360), 1.0, None),
        (WalkEnd("past_end", 1, 0.0), VideoInfo(10.0, 100, 640, 360), None, None),
        (WalkEnd("max_frames", 10, 0.9), VideoInfo(10.0, 100, 640, 360), None, None),
        (WalkEnd("decoder_ended", 10, 0.9), VideoInfo(10.0, 0, 640, 360), None, None),  # no count
    ],
)
def test_truncation_reason(
    end: WalkEnd, info: VideoInfo, share: float | None, message: str | None
) -> None:
    s = faces(6)
    s.info, s.end = info, end
    assert decoded_share(s) == (None if share is None else pytest.approx(share, abs=1e-6))
    result = assess(s, [[0.9]] * 6, 0.5, (0.5, 0.5))
    truncated = [r for r in result.reasons if r.code == "truncated_input"]
    if message is None:
        assert (truncated, result.verdict) == ([], "fake")
        return
    assert result.verdict == "uncertain"
    assert truncated[0].blocking
    assert message in truncated[0].message
    assert truncated[0].message.endswith(": the file is truncated or damaged.")
