"""The declared size of every image format the service reads, from real encoded files."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest
from PIL import Image

from api.errors import MediaTooLarge, UnsupportedMedia
from api.pipeline.extract import check_decoded, extract_image_faces
from api.pipeline.faces import HaarFaceDetector
from api.pipeline.imageheader import read_header
from tests.support.videos import (
    astronaut_bgr,
    bmp_declaring,
    encoded,
    jpeg_declaring,
    png_declaring,
    webp_declaring,
)

LIMIT = 7680 * 4320  # MAX_VIDEO_PIXELS' default


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return path


Declaring = Callable[[int, int], bytes]
FORMATS: list[tuple[str, Declaring, int]] = [  # name, builder, largest side the format holds
    ("JPEG", jpeg_declaring, 65535),
    ("PNG", png_declaring, 2**31 - 1),
    ("BMP", bmp_declaring, 2**31 - 1),
    ("WebP", lambda w, h: webp_declaring(w, h, "VP8 "), 16383),
    ("WebP", lambda w, h: webp_declaring(w, h, "VP8L"), 16384),
    ("WebP", lambda w, h: webp_declaring(w, h, "VP8X"), 2**24),
]
FORMAT_IDS = ["jpeg", "png", "bmp", "webp-lossy", "webp-lossless", "webp-extended"]


SIZES = [(1, 1), (16, 16), (1920, 1080), (1080, 1920), (7680, 4320), (16383, 16383), (30000, 30000)]


@pytest.mark.parametrize(
    ("fmt", "build", "size"),
    [
        pytest.param(fmt, build, size, id=f"{name}-{size[0]}x{size[1]}")
        for (fmt, build, largest), name in zip(FORMATS, FORMAT_IDS, strict=True)
        for size in SIZES
        if max(size) <= largest
    ],
)
def test_the_declared_size_is_read(
    tmp_path: Path, fmt: str, build: Declaring, size: tuple[int, int]
) -> None:
    header = read_header(write(tmp_path, build(*size)))
    assert (header.format, header.width, header.height) == (fmt, *size)


@pytest.mark.parametrize(
    ("ext", "params"),
    [
        (".jpg", []),
        (".png", []),
        (".bmp", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        (".tiff", []),  # not served, but training reads it through the same function
    ],
)
@pytest.mark.parametrize("size", [(1, 1), (37, 23), (640, 360)])
def test_the_header_agrees_with_the_decoder(
    tmp_path: Path, ext: str, params: list[int], size: tuple[int, int]
) -> None:
    ok, data = cv2.imencode(ext, cv2.resize(astronaut_bgr(), size), params)
    assert ok
    header = read_header(write(tmp_path, data.tobytes()))
    decoded = cv2.imread(str(tmp_path / "upload"))
    assert decoded is not None
    assert (header.width, header.height) == (decoded.shape[1], decoded.shape[0]) == size


def test_exif_rotation_is_not_a_size_lie(tmp_path: Path) -> None:
    """The header stores 64x48; orientation 6 (rotate 90) makes OpenCV decode 48x64."""
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    rgb = cv2.cvtColor(cv2.resize(astronaut_bgr(), (64, 48)), cv2.COLOR_BGR2RGB)
    Image.fromarray(rgb).save(path, "JPEG", exif=exif.tobytes())
    assert (read_header(path).width, read_header(path).height) == (64, 48)
    samples = extract_image_faces(path, detector=HaarFaceDetector(), margin=0.2)
    assert (samples.info.width, samples.info.height) == (48, 64)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encoded(".jpg")[:10], "JPEG header is truncated or corrupt"),
        (encoded(".png")[:20], "PNG header is truncated or corrupt"),
        (encoded(".png")[:29] + b"\0\0\0\0" + encoded(".png")[33:], "PNG header"),  # bad CRC
        (encoded(".bmp")[:14] + bytes(20), "BMP header is truncated or corrupt"),
        (encoded(".webp")[:20], "WebP header is truncated or corrupt"),
        (b"RIFF\0\0\0\0WEBPVP8 " + bytes(20), "WebP header"),  # no VP8 start code
        (b"RIFF\0\0\0\0WEBPALPH" + bytes(20), "unknown first chunk"),
        (b"GIF89a" + bytes(40), "not an image this service reads (GIF)"),
    ],
    ids=["jpeg", "png", "png-crc", "bmp", "webp-short", "webp-vp8", "webp-chunk", "gif"],
)
def test_an_unreadable_header_is_unsupported(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedMedia, match=re.escape(message)) as raised:
        read_header(write(tmp_path, data))
    assert type(raised.value) is UnsupportedMedia
    assert raised.value.code == "unsupported_media"


def test_pillow_limits_neither_raise_nor_warn(tmp_path: Path) -> None:
    """Above Pillow's MAX_IMAGE_PIXELS (89M) Image.open warns, above twice that it raises
    without saying the size: ours must be the only limit, whatever it is set to."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for side in (10_000, 30_000):  # 100M: Pillow's warning; 900M: Pillow's error
            header = read_header(write(tmp_path, png_declaring(side, side)))
            assert header.pixels == side * side


@pytest.mark.parametrize(("fmt", "build", "largest"), FORMATS, ids=FORMAT_IDS)
def test_a_bomb_is_refused_before_decoding(
    tmp_path: Path, fmt: str, build: Declaring, largest: int
) -> None:
    side = min(largest, 30000)
    with pytest.raises(MediaTooLarge) as raised:
        extract_image_faces(
            write(tmp_path, build(side, side)), detector=HaarFaceDetector(), margin=0.2
        )
    assert raised.value.code == "too_many_pixels"
    assert raised.value.details == {"width": side, "height": side, "max_pixels": LIMIT}
    assert f"The image is {side}x{side} pixels, more than" in raised.value.message


@pytest.mark.parametrize(
    ("decoded", "declared", "max_pixels", "refused"),
    [
        ((640, 360), (640, 360), LIMIT, None),
        ((360, 640), (640, 360), LIMIT, None),  # rotated: the same area
        ((640, 360), (0, 0), LIMIT, None),  # nothing declared
        ((640, 362), (640, 360), LIMIT, "more than the 640x360 its header declares"),
        ((1280, 720), (640, 360), LIMIT, "more than the 640x360 its header declares"),
        ((640, 360), (640, 360), 640 * 360 - 1, "more than this server's limit"),
        ((7681, 4320), (0, 0), LIMIT, "more than this server's limit"),
    ],
)
def test_decoded_pixels_beyond_the_declared_area_are_refused(
    decoded: tuple[int, int], declared: tuple[int, int], max_pixels: int, refused: str | None
) -> None:
    if refused is None:
        check_decoded(*decoded, declared, max_pixels, "image")
        return
    with pytest.raises(MediaTooLarge, match=refused) as raised:
        check_decoded(*decoded, declared, max_pixels, "image")
    assert raised.value.code == "too_many_pixels"
    assert raised.value.details is not None
    assert raised.value.details["width"] == decoded[0]


PEAK = """
import resource, sys
from pathlib import Path
from api.errors import MediaTooLarge
from api.pipeline.extract import extract_image_faces
from api.pipeline.faces import HaarFaceDetector
detector = HaarFaceDetector()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    extract_image_faces(Path(sys.argv[1]), detector=detector, margin=0.2)
except MediaTooLarge:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.parametrize("build", [jpeg_declaring, png_declaring], ids=["jpeg", "png"])
def test_a_bomb_costs_no_memory(tmp_path: Path, build: Declaring) -> None:
    """Decoding 30000x30000 would raise the peak by ~5 GB; the header read costs nothing
    measurable. In a fresh process, so the peak is this refusal's alone."""
    path = write(tmp_path, build(30000, 30000))
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PEAK), str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    increase_kib = int(run.stdout.strip())
    assert increase_kib < 500 * 1024, run.stderr  # ru_maxrss is in KiB on Linux
