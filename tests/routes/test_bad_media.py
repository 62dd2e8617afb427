"""Every kind of broken or hostile upload gets a clear answer, leaves no temp file behind, and
the gateway keeps serving. Fixtures are generated here or committed under tests/fixtures/media."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import AppFactory
from tests.support.videos import (
    astronaut_bgr,
    bmp_declaring,
    cut,
    jpeg_declaring,
    make_avi,
    png_declaring,
    webp_declaring,
    write_video,
)

MEDIA = Path(__file__).parents[1] / "fixtures" / "media"


def image(ext: str) -> bytes:
    ok, data = cv2.imencode(ext, astronaut_bgr())
    assert ok
    return data.tobytes()


def truncated(videos: dict[str, Path]) -> bytes:
    data = videos["faces"].read_bytes()
    return data[: len(data) // 2]  # OpenCV's writer puts the index (moov) at the end


def zero_frames(tmp: Path) -> bytes:
    path = write_video(tmp / "zero.mp4", [], fps=10)
    if not path.exists():  # nothing written without a first frame: build the empty container
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (64, 48))
        writer.release()
    return path.read_bytes()


def absurd_rate(tmp: Path) -> bytes:
    frames = [np.full((48, 64, 3), 100, np.uint8)] * 3
    return write_video(tmp / "fast.mp4", frames, fps=5000).read_bytes()


Maker = Callable[[dict[str, Path], Path], bytes]
# A 1x1 GIF: an image format OpenCV does not read.
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

BAD: list[tuple[str, Maker, int, str, str]] = [
    ("text named .mp4", lambda v, t: b"just some text\n" * 50, 415, "unsupported_media", "text"),
    ("pdf named .mp4", lambda v, t: b"%PDF-1.4\n" + bytes(3000), 415, "unsupported_media", "PDF"),
    ("zip", lambda v, t: b"PK\x03\x04" + bytes(100), 415, "unsupported_media", "ZIP"),
    ("gif image", lambda v, t: GIF, 415, "unsupported_media", "GIF image"),
    (
        "truncated jpeg",
        lambda v, t: image(".jpg")[:200],
        415,
        "unsupported_media",
        "could not be decoded",
    ),
    (
        "hls playlist",
        lambda v, t: b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n",
        415,
        "unsupported_media",
        "HLS playlist",
    ),
    (
        "audio-only mp4",
        lambda v, t: (MEDIA / "audio_only.m4a").read_bytes(),
        415,
        "unsupported_media",
        "audio without a picture",
    ),
    (
        "audio-only matroska",
        lambda v, t: (MEDIA / "audio_only.mka").read_bytes(),
        415,
        "unsupported_media",
        "could not be opened as a video",
    ),
    (
        "truncated mp4",
        lambda v, t: truncated(v),
        415,
        "unsupported_media",
        "could not be opened",
    ),
    ("zero frames", lambda v, t: zero_frames(t), 415, "unsupported_media", "could not be opened"),
    ("random bytes", lambda v, t: bytes(range(256)) * 20, 415, "unsupported_media", "recognised"),
    # Decompression bombs: < 1 KB each, refused from the header before a pixel is decoded.
    *[
        (f"{name} bomb", lambda v, t, b=build: b(), 415, "too_many_pixels", size)
        for name, build, size in [
            ("jpeg", lambda: jpeg_declaring(30000, 30000), "30000x30000 pixels, more than"),
            ("png", lambda: png_declaring(30000, 30000), "30000x30000 pixels, more than"),
            ("bmp", lambda: bmp_declaring(30000, 30000), "30000x30000 pixels, more than"),
            ("webp lossy", lambda: webp_declaring(16383, 16383, "VP8 "), "16383x16383 pixels"),
            ("webp lossless", lambda: webp_declaring(16384, 16384, "VP8L"), "16384x16384 pix"),
            ("webp extended", lambda: webp_declaring(30000, 30000, "VP8X"), "30000x30000 pix"),
        ]
    ],
    (
        "jpeg header only",
        lambda v, t: jpeg_declaring(640, 360)[:150],
        415,
        "unsupported_media",
        "JPEG header is truncated or corrupt",
    ),
]


def post(client: TestClient, data: bytes, name: str = "clip.mp4", **params: Any) -> Any:
    return client.post("/predict", params=params, files={"file": (name, data, "video/mp4")})


def upload_dir(client: TestClient) -> Path:
    path: Path = client.app.state.settings.UPLOAD_DIR  # type: ignore[attr-defined]
    return path


@pytest.mark.parametrize(
    ("make", "status", "code", "message"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_upload(
    make_client: AppFactory,
    videos: dict[str, Path],
    tmp_path: Path,
    make: Maker,
    status: int,
    code: str,
    message: str,
) -> None:
    client = make_client()
    response = post(client, make(videos, tmp_path))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert message in body["error"]
    assert list(upload_dir(client).iterdir()) == []
    assert post(client, videos["faces"].read_bytes()).status_code == 200


def test_absurd_frame_rate_without_a_face(make_client: AppFactory, tmp_path: Path) -> None:
    body = post(make_client(), absurd_rate(tmp_path)).json()
    assert (body["verdict"], body["reasons"][0]["code"]) == ("uncertain", "no_face")


def test_declared_frame_rate_beyond_belief_is_ignored(
    make_client: AppFactory, tmp_path: Path
) -> None:
    frames = [cv2.resize(astronaut_bgr(), (360, 360))] * 30
    data = write_video(tmp_path / "fast.mp4", frames, fps=5000).read_bytes()
    meta = post(make_client(), data).json()["meta"]
    assert meta["src_fps"] == 0.0  # 5000 declared: treated as unknown
    assert meta["used_step"] == 12  # stepped as if 25 fps at the default 2 fps
    assert meta["sampled_frames"] == 3


def test_too_many_pixels_per_frame(make_client: AppFactory, videos: dict[str, Path]) -> None:
    client = make_client(MAX_VIDEO_PIXELS=640 * 360 - 1)
    response = post(client, videos["faces"].read_bytes())
    assert response.status_code == 415
    body = response.json()
    assert body["code"] == "too_many_pixels"  # the same code as an image's
    assert "640x360 pixels per frame" in body["error"]
    assert body["details"] == {"width": 640, "height": 360, "max_pixels": 640 * 360 - 1}


def test_too_many_pixels_in_an_image(make_client: AppFactory) -> None:
    client = make_client(MAX_VIDEO_PIXELS=512 * 512 - 1)
    response = post(client, image(".png"), "face.png")
    assert response.status_code == 415
    body = response.json()
    assert (body["code"], body["details"]["width"], body["details"]["height"]) == (
        "too_many_pixels",
        512,
        512,
    )
    assert "The image is 512x512 pixels, more than" in body["error"]
    assert list(upload_dir(client).iterdir()) == []


@pytest.mark.parametrize("keep", [0.5, 0.25])
def test_a_truncated_video_is_uncertain(
    make_client: AppFactory, tmp_path: Path, keep: float
) -> None:
    """What an interrupted upload or copy leaves: the frames before the cut decode, and judging
    them as the whole clip would be a confident answer about a fragment."""
    clip = make_avi(tmp_path / "clip.avi", seconds=4, fps=10)
    client = make_client()
    whole = post(client, clip.read_bytes(), "clip.avi").json()
    assert "truncated_input" not in [r["code"] for r in whole["reasons"]]
    response = post(client, cut(clip, keep, tmp_path / "cut.avi").read_bytes(), "cut.avi")
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "uncertain"
    truncated = [r for r in body["reasons"] if r["code"] == "truncated_input"]
    said = re.fullmatch(
        r"Only (\d\.\d) s of the declared 4\.0 s could be decoded \((\d+)%\): the file is "
        r"truncated or damaged\.",
        truncated[0]["message"],
    )
    assert said is not None, truncated[0]["message"]
    # Each frame is a JPEG of about the same size: the decoded share is about the kept share.
    assert float(said[1]) == pytest.approx(4 * keep, abs=0.4)
    assert int(said[2]) == pytest.approx(100 * keep, abs=10)
    assert body["meta"]["total_frames"] == 40  # the container's count, from its header
    assert list(upload_dir(client).iterdir()) == []


def test_phone_rotation_metadata_is_applied(make_client: AppFactory) -> None:
    """Frames are stored sideways; without the display matrix no face would be found."""
    body = post(make_client(), (MEDIA / "rotated_270.mp4").read_bytes(), fps=5).json()
    meta = body["meta"]
    assert (meta["width"], meta["height"]) == (640, 360)
    assert meta["face_frames"] == meta["sampled_frames"] == 10


@pytest.mark.parametrize(("file", "total_frames"), [("clip.webm", 20), ("streamed.webm", 0)])
def test_webm(make_client: AppFactory, file: str, total_frames: int) -> None:
    """A streamed WebM has no duration: OpenCV's frame count is negative, reported as 0."""
    body = post(make_client(), (MEDIA / file).read_bytes(), file).json()
    assert body["meta"]["total_frames"] == total_frames
    assert body["meta"]["face_frames"] == body["meta"]["sampled_frames"] == 4


def test_variable_frame_rate_uses_decoder_timestamps(make_client: AppFactory) -> None:
    """The container claims 10 fps; frames are 0.1 s apart, then 0.2 s apart."""
    body = post(make_client(), (MEDIA / "vfr.mkv").read_bytes(), "vfr.mkv", fps=5).json()
    times = [s["t"] for s in body["frame_samples"]]
    assert body["meta"]["used_step"] == 2
    assert times == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.9, 1.3, 1.7, 2.1], abs=1e-3)
    assert times[-1] > 1.5  # index arithmetic (14 / 10 fps) would have said 1.4


def test_file_name_and_content_type_are_not_trusted(
    make_client: AppFactory, videos: dict[str, Path]
) -> None:
    client = make_client()
    data = videos["faces"].read_bytes()
    response = client.post("/predict", files={"file": ("notes.txt", data, "text/plain")})
    assert response.status_code == 200
    response = client.post("/predict", files={"file": ("a.mp4", image(".png"), "video/mp4")})
    assert response.status_code == 200
    assert response.json()["media"] == "image"  # a PNG named .mp4 is read as the PNG it is
