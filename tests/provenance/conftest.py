"""Signed, marked and plain files, made once per session (signing takes ~ms each)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pytest

from settings import Settings
from tests.support import provenance as pv
from tests.support.videos import astronaut_bgr, make_video


@dataclass(frozen=True)
class Fixture:
    path: Path
    kind: Literal["video", "image"]
    format: str


@pytest.fixture(scope="session")
def pki() -> pv.Pki:
    return pv.make_pki()


@pytest.fixture(scope="session")
def anchors(pki: pv.Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | None]:
    base = tmp_path_factory.mktemp("anchors")
    (base / "trusted.pem").write_bytes(pki.ca_pem)
    (base / "other.pem").write_bytes(pki.other_ca_pem)
    return {"none": None, "trusted": base / "trusted.pem", "other": base / "other.pem"}


@pytest.fixture(scope="session")
def settings_for(anchors: dict[str, Path | None]) -> dict[str, Settings]:
    return {
        name: Settings(_env_file=None, C2PA_TRUST_ANCHORS=path) for name, path in anchors.items()
    }


def _png(bgr: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", bgr)
    assert ok
    return bytes(data.tobytes())


def _jpeg(bgr: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(data.tobytes())


@pytest.fixture(scope="session")
def files(pki: pv.Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fixture]:
    base = tmp_path_factory.mktemp("provenance")
    out: dict[str, Fixture] = {}

    def put(name: str, data: bytes, fmt: str, kind: Literal["video", "image"] = "image") -> None:
        path = base / name
        path.write_bytes(data)
        out[name] = Fixture(path, kind, fmt)

    photo = pv.photo_jpeg()
    ai = pv.sign(pki, photo, "image/jpeg", pv.manifest(pv.created(pv.AI), title="ai.jpg"))
    capture = pv.sign(
        pki, pv.photo_jpeg(1), "image/jpeg", pv.manifest(pv.created(pv.CAPTURE), title="cam.jpg")
    )
    edited = pv.sign(
        pki,
        pv.photo_jpeg(2),
        "image/jpeg",
        pv.manifest(*pv.opened_and_edited(), title="edited.jpg"),
        parent=(ai, "image/jpeg"),
    )
    fill = pv.sign(
        pki,
        pv.photo_jpeg(3),
        "image/jpeg",
        pv.manifest(*pv.opened_and_edited(pv.COMPOSITE_AI), title="fill.jpg"),
        parent=(capture, "image/jpeg"),
    )
    put("plain.jpg", photo, "JPEG")
    put("ai.jpg", ai, "JPEG")
    put("capture.jpg", capture, "JPEG")
    put("edited_from_ai.jpg", edited, "JPEG")
    put("generative_fill.jpg", fill, "JPEG")
    put("ai_tampered.jpg", pv.tamper(ai), "JPEG")
    put("capture_tampered.jpg", pv.tamper(capture), "JPEG")

    plain_mp4 = make_video(base / "plain.mp4", seconds=1, fps=10, width=320, height=240)
    out["plain.mp4"] = Fixture(plain_mp4, "video", "MP4/QuickTime")
    video = plain_mp4.read_bytes()
    ai_mp4 = pv.sign(pki, video, "video/mp4", pv.manifest(pv.created(pv.AI), title="ai.mp4"))
    put("ai.mp4", ai_mp4, "MP4/QuickTime", "video")
    put("ai_tampered.mp4", pv.tamper(ai_mp4, at=0.5), "MP4/QuickTime", "video")
    cam_mp4 = pv.sign(pki, video, "video/mp4", pv.manifest(pv.created(pv.CAPTURE)))
    put("capture.mp4", cam_mp4, "MP4/QuickTime", "video")

    art = astronaut_bgr().copy()
    put("plain.png", _png(art), "PNG")
    ai_png = pv.sign(pki, _png(art), "image/png", pv.manifest(pv.created(pv.AI)))
    put("ai.png", ai_png, "PNG")
    marked = pv.sd_watermark(art)
    put("sd_watermark.png", _png(marked), "PNG")
    _ok, bmp = cv2.imencode(".bmp", marked)
    put("sd_watermark.bmp", bytes(bmp.tobytes()), "BMP")
    put("sd_watermark.jpg", _jpeg(marked), "JPEG")
    # diffusers' SDXL watermarker hands the encoder RGB arrays
    sdxl_bits = [int(b) for b in bin(0b101100111110110010010000011110111011000110011110)[2:]]
    rgb_marked = pv.maxdct().EmbedMaxDct(sdxl_bits, wmLen=48).encode(art[:, :, ::-1].copy())
    put("sdxl_watermark.png", _png(np.ascontiguousarray(rgb_marked[:, :, ::-1])), "PNG")

    put("xmp_ai.jpg", pv.with_xmp(photo, pv.xmp_packet(pv.AI)), "JPEG")
    put(
        "xmp_composite.jpg",
        pv.with_xmp(photo, pv.xmp_packet(pv.COMPOSITE_AI, form="element")),
        "JPEG",
    )
    put("xmp_bare_code.jpg", pv.with_xmp(photo, pv.xmp_packet("trainedAlgorithmicMedia")), "JPEG")
    put("xmp_capture.jpg", pv.with_xmp(photo, pv.xmp_packet(pv.CAPTURE)), "JPEG")

    # Hostile or broken manifests.
    garbage = os.urandom(3000)
    segment = b"\xff\xeb" + struct.pack(">H", len(garbage) + 4) + b"JP" + garbage
    put("garbage_manifest.jpg", photo[:2] + segment + photo[2:], "JPEG")
    jumbf = ai.find(b"jumb")
    broken = bytearray(ai)
    broken[jumbf + 200 : jumbf + 400] = os.urandom(200)
    put("scrambled_manifest.jpg", bytes(broken), "JPEG")
    put("truncated_manifest.jpg", ai[: jumbf + 500], "JPEG")
    put("truncated.mp4", ai_mp4[: len(ai_mp4) // 3], "MP4/QuickTime", "video")
    put("not_a_jpeg.jpg", b"\xff\xd8\xff" + os.urandom(5000), "JPEG")
    return out
