"""Provenance through /predict: real C2PA-signed files (tests.support.provenance signs them at
test time with a throwaway CA), XMP declarations and broken manifests, each giving the
documented provenance.summary and verdict; score and label never move."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import AppFactory
from tests.routes.test_jobs import status_is, wait_for
from tests.routes.test_observability import sample
from tests.support import provenance as p
from tests.support.videos import astronaut_bgr, jpeg_declaring

# The test model (mean red channel) scores the astronaut about 0.64: these thresholds make the
# detector alone answer fake or real, with no band (the test models have no card).
DETECTOR_FAKE, DETECTOR_REAL = 0.01, 0.99


@pytest.fixture(scope="module")
def pki() -> p.Pki:
    return p.make_pki()


@pytest.fixture(scope="module")
def face_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", astronaut_bgr(), [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return bytes(data.tobytes())


def encoded(ext: str, bgr: Any) -> bytes:
    ok, data = cv2.imencode(ext, bgr)
    assert ok
    return bytes(data.tobytes())


def app_segments(data: bytes, marker: int) -> list[tuple[int, int]]:
    """(offset, length field) of each JPEG segment with `marker` before the scan."""
    found, i = [], 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if data[i + 1] == marker:
            found.append((i, length))
        i += 2 + length
    return found


def garbage_manifest(signed: bytes) -> bytes:
    """The first APP11 (JUMBF) segment's boxes overwritten with a byte ramp: the picture is
    intact, the manifest store is not."""
    offset, _ = app_segments(signed, 0xEB)[0]
    out = bytearray(signed)
    out[offset + 60 : offset + 260] = bytes(range(200))
    return bytes(out)


def truncated_manifest(signed: bytes) -> bytes:
    """The first APP11 segment cut to a third (its length field rewritten so the JPEG still
    parses): the JUMBF boxes declare more bytes than there are."""
    offset, length = app_segments(signed, 0xEB)[0]
    payload = signed[offset + 4 : offset + 2 + length]
    cut = payload[: len(payload) // 3]
    segment = b"\xff\xeb" + struct.pack(">H", len(cut) + 2) + cut
    return signed[:offset] + segment + signed[offset + 2 + length :]


# name -> how to make the upload from (pki, face_jpeg)
Maker = Callable[[p.Pki, bytes], bytes]
FILES: dict[str, Maker] = {
    "plain": lambda pki, jpeg: jpeg,
    "ai_generated": lambda pki, jpeg: p.sign(
        pki, jpeg, "image/jpeg", p.manifest(p.created(p.AI, agent="Test Diffusion 2"))
    ),
    "ai_edited": lambda pki, jpeg: p.sign(
        pki,
        jpeg,
        "image/jpeg",
        p.manifest(*p.opened_and_edited(p.COMPOSITE_AI)),
        parent=(jpeg, "image/jpeg"),
    ),
    "captured": lambda pki, jpeg: p.sign(pki, jpeg, "image/jpeg", p.manifest(p.created(p.CAPTURE))),
    "captured_then_edited": lambda pki, jpeg: p.tamper(
        p.sign(pki, jpeg, "image/jpeg", p.manifest(p.created(p.CAPTURE)))
    ),
    "xmp_ai": lambda pki, jpeg: p.with_xmp(jpeg, p.xmp_packet(p.AI)),
    # Stable Diffusion's reference watermark, by invisible-watermark's own encoder: found in
    # the lossless PNG, gone from the same picture re-encoded as JPEG.
    "sd_watermark_png": lambda pki, jpeg: encoded(".png", p.sd_watermark(astronaut_bgr())),
    "sd_watermark_jpeg": lambda pki, jpeg: encoded(".jpg", p.sd_watermark(astronaut_bgr())),
    "garbage_manifest": lambda pki, jpeg: garbage_manifest(
        p.sign(pki, jpeg, "image/jpeg", p.manifest(p.created(p.AI)))
    ),
    "truncated_manifest": lambda pki, jpeg: truncated_manifest(
        p.sign(pki, jpeg, "image/jpeg", p.manifest(p.created(p.AI)))
    ),
}


@pytest.fixture(scope="module")
def files(pki: p.Pki, face_jpeg: bytes) -> dict[str, bytes]:
    return {name: make(pki, face_jpeg) for name, make in FILES.items()}


@pytest.fixture
def trusting(pki: p.Pki, tmp_path: Path) -> dict[str, Any]:
    """Settings that trust the test CA."""
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(pki.ca_pem)
    return {"C2PA_TRUST_ANCHORS": anchors}


def predict(client: TestClient, data: bytes, name: str = "upload.jpg") -> dict[str, Any]:
    response = client.post("/predict", files={"file": (name, data)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


# Pictures of their own (the mark changes pixels), not the plain JPEG's.
WATERMARKED = {"sd_watermark_png", "sd_watermark_jpeg"}
PROVENANCE_REASONS = {"declared_ai_generated", "declared_ai_edited", "edited_after_signing"}
# file -> (summary, verdict when the detector says fake, verdict when it says real, reason)
RULES: dict[str, tuple[str, str, str, str | None]] = {
    "plain": ("no_provenance", "fake", "real", None),
    "ai_generated": ("declared_ai_generated", "fake", "fake", "declared_ai_generated"),
    "ai_edited": ("declared_ai_edited", "fake", "uncertain", "declared_ai_edited"),
    "captured": ("declared_captured", "fake", "real", None),
    "captured_then_edited": ("edited_after_signing", "fake", "uncertain", "edited_after_signing"),
    "xmp_ai": ("declared_ai_generated", "fake", "fake", "declared_ai_generated"),
    "sd_watermark_png": ("declared_ai_generated", "fake", "fake", "declared_ai_generated"),
    "sd_watermark_jpeg": ("no_provenance", "fake", "real", None),
    "garbage_manifest": ("no_provenance", "fake", "real", None),
    "truncated_manifest": ("no_provenance", "fake", "real", None),
}


@pytest.mark.parametrize("name", RULES)
def test_each_file_gives_the_documented_summary_and_verdict(
    name: str, files: dict[str, bytes], trusting: dict[str, Any], make_client: AppFactory
) -> None:
    summary, if_fake, if_real, reason = RULES[name]
    for threshold, verdict in ((DETECTOR_FAKE, if_fake), (DETECTOR_REAL, if_real)):
        client = make_client(BACKEND="embedded", THRESHOLD=threshold, **trusting)
        body = predict(client, files[name])
        assert body["provenance"]["summary"] == summary
        assert body["verdict"] == verdict, (threshold, body["reasons"])
        added = [c for c in codes(body) if c in PROVENANCE_REASONS]
        assert added == ([reason] if reason else [])
        rule = "provenance" if summary == "declared_ai_generated" else "most_suspicious_track"
        assert body["decision"]["rule"] == rule
        # The original keys are the detector's alone: the plain file's, where the pixels are.
        if name not in WATERMARKED:
            plain = predict(client, files["plain"])
            assert (body["score"], body["label"]) == (plain["score"], plain["label"])
        assert body["label"] == ("fake" if threshold == DETECTOR_FAKE else "real")


def test_a_declared_ai_image_reports_its_manifest(
    files: dict[str, bytes], pki: p.Pki, make_client: AppFactory
) -> None:
    body = predict(make_client(BACKEND="embedded", THRESHOLD=DETECTOR_REAL), files["ai_generated"])
    provenance = body["provenance"]
    c2pa = provenance["c2pa"]
    assert (c2pa["validation"], c2pa["validation_errors"], c2pa["trusted"]) == ("valid", [], False)
    assert c2pa["signer"] == {"issuer": p.SIGNER_ORG, "common_name": p.SIGNER_NAME}
    assert c2pa["actions"][0] == {
        "action": "c2pa.created",
        "digital_source_type": p.AI,
        "software_agent": "Test Diffusion 2",
    }
    assert c2pa["ingredients"] == {"count": 0, "ai_generated": False}
    assert c2pa["title"] == "test"
    assert (provenance["xmp"], provenance["watermarks"], provenance["error"]) == (None, [], None)
    assert "generated by AI" in provenance["message"]
    reason = next(r for r in body["reasons"] if r["code"] == "declared_ai_generated")
    assert f"signed by {p.SIGNER_NAME}, not a trusted signer" in reason["message"]
    assert body["decision"]["score"] == body["score"]  # the detector's number is still shown


def test_a_capture_claim_needs_a_trusted_signer(
    files: dict[str, bytes], trusting: dict[str, Any], make_client: AppFactory
) -> None:
    """The same signed file: untrusted by default, declared_captured once its CA is an anchor,
    and never a reason to doubt a detector's fake."""
    untrusted = predict(make_client(BACKEND="embedded"), files["captured"])
    assert untrusted["provenance"]["summary"] == "no_provenance"
    assert untrusted["provenance"]["c2pa"]["trusted"] is False
    trusted = predict(make_client(BACKEND="embedded", **trusting), files["captured"])
    assert trusted["provenance"]["summary"] == "declared_captured"
    assert trusted["provenance"]["c2pa"]["trusted"] is True


def test_an_edited_file_reports_the_mismatch(
    files: dict[str, bytes], make_client: AppFactory
) -> None:
    body = predict(make_client(BACKEND="embedded"), files["captured_then_edited"])
    c2pa = body["provenance"]["c2pa"]
    assert c2pa["validation"] == "invalid"
    assert any(e["code"].endswith(".mismatch") for e in c2pa["validation_errors"])


@pytest.mark.parametrize("name", ["garbage_manifest", "truncated_manifest"])
def test_a_broken_manifest_never_fails_the_request(
    name: str, files: dict[str, bytes], make_client: AppFactory
) -> None:
    client = make_client(BACKEND="embedded")
    body = predict(client, files[name])
    plain = predict(client, files["plain"])
    provenance = body["provenance"]
    assert provenance["error"]["code"] == "c2pa_malformed"
    assert provenance["error"]["message"]
    assert (provenance["summary"], provenance["c2pa"]) == ("no_provenance", None)
    # Detection answered as for the same picture without a manifest.
    assert (body["score"], body["verdict"], body["coverage"]) == (
        plain["score"],
        plain["verdict"],
        plain["coverage"],
    )
    assert sample(client, "gateway_provenance_errors_total", code="c2pa_malformed") == 1


def test_a_signed_video_is_read_too(
    pki: p.Pki, videos: dict[str, Path], make_client: AppFactory
) -> None:
    signed = p.sign(pki, videos["short"].read_bytes(), "video/mp4", p.manifest(p.created(p.AI)))
    client = make_client(BACKEND="embedded", THRESHOLD=DETECTOR_REAL)
    body = predict(client, signed, "clip.mp4")
    assert (body["media"], body["provenance"]["summary"]) == ("video", "declared_ai_generated")
    assert (body["verdict"], body["label"]) == ("fake", "real")
    assert body["provenance"]["c2pa"]["validation"] == "valid"


def test_summaries_are_counted(files: dict[str, bytes], make_client: AppFactory) -> None:
    client = make_client(BACKEND="embedded")
    for name in ("plain", "ai_generated", "xmp_ai", "captured_then_edited"):
        predict(client, files[name])
    counted = {
        s: sample(client, "gateway_provenance_total", summary=s)
        for s in ("no_provenance", "declared_ai_generated", "edited_after_signing")
    }
    assert counted == {"no_provenance": 1, "declared_ai_generated": 2, "edited_after_signing": 1}
    assert sample(client, "gateway_stage_seconds_count", stage="provenance") == 4


def test_a_job_result_carries_provenance(files: dict[str, bytes], make_client: AppFactory) -> None:
    client = make_client(BACKEND="embedded")
    job = client.post("/jobs", files={"file": ("ai.jpg", files["ai_generated"])}).json()
    state = wait_for(client, job["id"], status_is("done", "failed"))
    assert state["status"] == "done", state
    assert state["result"]["provenance"]["summary"] == "declared_ai_generated"
    assert state["result"]["decision"]["rule"] == "provenance"


def test_a_refused_upload_is_not_removed_while_provenance_reads_it(
    make_client: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A header bomb is refused within a millisecond, while provenance still reads the file's
    first megabytes for XMP: the prediction waits for that read before its upload is removed,
    so provenance never finds its file gone (which it would log as a failure)."""
    client = make_client(BACKEND="embedded")
    # 8 MiB after the header: provenance scans the first 4 MiB for an XMP packet.
    bomb = jpeg_declaring(30000, 30000) + bytes(8 * 2**20)
    logger = logging.getLogger("api.provenance")  # under "api", which does not propagate
    logger.addHandler(caplog.handler)
    try:
        for _ in range(20):
            response = client.post("/predict", files={"file": ("bomb.jpg", bomb)})
            assert response.json()["code"] == "too_many_pixels"
    finally:
        logger.removeHandler(caplog.handler)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
