"""XMP parsing, trust anchors and the bounds: hostile input is reported, never raised."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.provenance import inspect
from api.provenance.c2pa_reader import MAX_MANIFEST_BYTES, read_c2pa
from api.provenance.locate import C2PA_UUID, locate
from api.provenance.trust import TrustAnchorsError, check_trust_anchors, load_trust_anchors
from api.provenance.xmp import HEAD_BYTES, read_xmp, source_types
from settings import Settings
from tests.provenance.conftest import Fixture
from tests.support import provenance as pv

AI_URI = pv.AI


@pytest.mark.parametrize(
    "packet",
    [
        pv.xmp_packet(AI_URI),
        pv.xmp_packet(AI_URI, form="element"),
        # rdf:resource form, and a bare rdf:RDF without x:xmpmeta
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        b'<rdf:Description><Iptc4xmpExt:DigitalSourceType rdf:resource="'
        + AI_URI.encode()
        + b'"/></rdf:Description></rdf:RDF>',
    ],
)
def test_xmp_forms(packet: bytes) -> None:
    report, error = source_types(b"junk" + packet + b"junk")
    assert error is None
    assert report is not None
    assert report.digital_source_types == [AI_URI]


def test_xmp_entities_are_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "trainedAlgorithmicMedia">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><rdf:Description '
        b'Iptc4xmpExt:DigitalSourceType="&b;"/></rdf:RDF></x:xmpmeta>'
    )
    report, error = source_types(bomb)
    assert report is None
    assert error is not None
    assert error.code == "xmp_malformed"


def test_xmp_unclosed_packets_stay_cheap() -> None:
    data = (b"<x:xmpmeta DigitalSource " + os.urandom(100)) * 20_000  # ~2.5 MB of starts
    start = time.perf_counter()
    assert source_types(data) == (None, None)
    assert time.perf_counter() - start < 1


def test_xmp_is_read_only_from_the_head(tmp_path: Path) -> None:
    path = tmp_path / "late.jpg"
    with path.open("wb") as f:
        f.write(pv.photo_jpeg())
        f.seek(HEAD_BYTES + 10)
        f.write(pv.xmp_packet(AI_URI))
    assert read_xmp(path, video=False) == (None, None)
    report, _ = read_xmp(path, video=True)  # a video's tail is read too (moov-last MP4)
    assert report is not None


def test_a_huge_manifest_box_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    size = MAX_MANIFEST_BYTES + 1024
    with path.open("wb") as f:
        f.write(struct.pack(">I4s", 20, b"ftyp") + b"isom\x00\x00\x02\x00mp41")
        f.write(struct.pack(">I4s", size, b"uuid") + C2PA_UUID)
        f.truncate(20 + size)  # sparse: nothing is written, nothing must be read
    assert locate(path, "MP4/QuickTime").found is True
    outcome = read_c2pa(path, "MP4/QuickTime", trust_anchors=None, timeout=5)
    assert outcome.error is not None
    assert outcome.error.code == "c2pa_too_large"


def test_the_c2pa_read_has_a_deadline(files: dict[str, Fixture]) -> None:
    f = files["ai.mp4"]
    settings = Settings(_env_file=None, PROVENANCE_TIMEOUT=1e-9)
    report = inspect(f.path, kind=f.kind, format=f.format, settings=settings)
    assert report.error is not None
    assert report.error.code == "c2pa_timeout"
    assert report.summary == "no_provenance"


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("ai.jpg", True),
        ("plain.jpg", False),
        ("ai.png", True),
        ("plain.png", False),
        ("ai.mp4", True),
        ("plain.mp4", False),
    ],
)
def test_locate(files: dict[str, Fixture], name: str, found: bool) -> None:
    f = files[name]
    assert locate(f.path, f.format).found is found


def test_trust_anchors_are_checked_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ValidationError, match="C2PA_TRUST_ANCHORS"):
        Settings(_env_file=None, C2PA_TRUST_ANCHORS=bad)
    with pytest.raises(ValidationError, match="C2PA_TRUST_ANCHORS"):
        Settings(_env_file=None, C2PA_TRUST_ANCHORS=tmp_path / "missing.pem")
    with pytest.raises(TrustAnchorsError, match=r"bad\.pem"):
        check_trust_anchors(bad)
    assert check_trust_anchors(None) == 0


def test_trust_anchors_are_reread_when_the_file_changes(pki: pv.Pki, tmp_path: Path) -> None:
    path = tmp_path / "anchors.pem"
    path.write_bytes(pki.ca_pem)
    assert load_trust_anchors(path) == pki.ca_pem.decode()
    path.write_bytes(pki.ca_pem + pki.other_ca_pem)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert check_trust_anchors(path) == 2
