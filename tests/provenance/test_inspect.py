"""Each fixture file -> the summary inspect() gives it, under each trust configuration."""

from __future__ import annotations

import pytest

from api.provenance import ProvenanceReport, inspect
from settings import Settings
from tests.provenance.conftest import Fixture

# (file, trust anchors, summary, error code or None)
CASES = [
    ("plain.jpg", "none", "no_provenance", None),
    ("plain.png", "none", "no_provenance", None),
    ("plain.mp4", "none", "no_provenance", None),
    ("ai.jpg", "none", "declared_ai_generated", None),
    ("ai.jpg", "trusted", "declared_ai_generated", None),
    ("ai.png", "none", "declared_ai_generated", None),
    ("ai.mp4", "none", "declared_ai_generated", None),
    ("edited_from_ai.jpg", "none", "declared_ai_edited", None),
    ("generative_fill.jpg", "trusted", "declared_ai_edited", None),
    # a capture claim counts only from a trusted signer
    ("capture.jpg", "trusted", "declared_captured", None),
    ("capture.jpg", "other", "no_provenance", None),
    ("capture.jpg", "none", "no_provenance", None),
    ("capture.mp4", "trusted", "declared_captured", None),
    ("capture.mp4", "none", "no_provenance", None),
    # changed after signing, whoever signed
    ("ai_tampered.jpg", "none", "edited_after_signing", None),
    ("ai_tampered.mp4", "none", "edited_after_signing", None),
    ("capture_tampered.jpg", "trusted", "edited_after_signing", None),
    # the SD reference watermark, only where it survives
    ("sd_watermark.png", "none", "declared_ai_generated", None),
    ("sd_watermark.bmp", "none", "declared_ai_generated", None),
    ("sdxl_watermark.png", "none", "declared_ai_generated", None),
    ("sd_watermark.jpg", "none", "no_provenance", None),
    # XMP: lowers trust, never raises it
    ("xmp_ai.jpg", "none", "declared_ai_generated", None),
    ("xmp_bare_code.jpg", "none", "declared_ai_generated", None),
    ("xmp_composite.jpg", "none", "declared_ai_edited", None),
    ("xmp_capture.jpg", "trusted", "no_provenance", None),
    # broken or hostile manifests: reported, never raised
    ("garbage_manifest.jpg", "none", "no_provenance", "c2pa_malformed"),
    ("scrambled_manifest.jpg", "none", "no_provenance", "c2pa_malformed"),
    ("truncated_manifest.jpg", "none", "no_provenance", "c2pa_malformed"),
    ("not_a_jpeg.jpg", "none", "no_provenance", None),
]


def run(files: dict[str, Fixture], settings: Settings, name: str) -> ProvenanceReport:
    f = files[name]
    return inspect(f.path, kind=f.kind, format=f.format, settings=settings)


@pytest.mark.parametrize(("name", "trust", "summary", "error"), CASES)
def test_summary(
    files: dict[str, Fixture],
    settings_for: dict[str, Settings],
    name: str,
    trust: str,
    summary: str,
    error: str | None,
) -> None:
    report = run(files, settings_for[trust], name)
    assert (report.summary, report.error and report.error.code) == (summary, error), report
    assert report.message
    assert report.seconds < 5


def test_the_manifest_of_a_generated_image(
    files: dict[str, Fixture], settings_for: dict[str, Settings]
) -> None:
    c2pa = run(files, settings_for["none"], "ai.jpg").c2pa
    assert c2pa is not None
    assert c2pa.validation == "valid"
    assert c2pa.validation_errors == []
    assert not c2pa.trusted
    assert c2pa.claim_generator == "provenance-tests 1.0"
    assert c2pa.title == "ai.jpg"
    assert (c2pa.signer.common_name, c2pa.signer.issuer) == (
        "Test Camera Signer",
        "Provenance Test Org",
    )
    assert c2pa.signed_at is None  # no timestamp authority in the tests
    [action] = c2pa.actions
    assert action.action == "c2pa.created"
    assert action.digital_source_type == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    )
    assert action.software_agent == "Test Generator"
    assert (c2pa.ingredients, c2pa.ai_ingredient) == (0, False)


def test_trust_needs_an_anchor_the_signer_chains_to(
    files: dict[str, Fixture], settings_for: dict[str, Settings]
) -> None:
    trusted = {t: run(files, settings_for[t], "capture.jpg").c2pa for t in settings_for}
    assert {t: r is not None and r.trusted for t, r in trusted.items()} == {
        "none": False,
        "other": False,
        "trusted": True,
    }


def test_an_ingredient_that_was_itself_generated(
    files: dict[str, Fixture], settings_for: dict[str, Settings]
) -> None:
    c2pa = run(files, settings_for["none"], "edited_from_ai.jpg").c2pa
    assert c2pa is not None
    assert (c2pa.ingredients, c2pa.ai_ingredient) == (1, True)
    assert [a.action for a in c2pa.actions] == ["c2pa.opened", "c2pa.edited"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ai_tampered.jpg", "assertion.dataHash.mismatch"),
        ("ai_tampered.mp4", "assertion.bmffHash.mismatch"),
    ],
)
def test_a_hash_mismatch_is_named(
    files: dict[str, Fixture], settings_for: dict[str, Settings], name: str, code: str
) -> None:
    report = run(files, settings_for["none"], name)
    assert report.c2pa is not None
    assert report.c2pa.validation == "invalid"
    assert code in [c for c, _ in report.c2pa.validation_errors]
    assert code in report.message
    # the trust verdict is not a validation error
    assert "signingCredential.untrusted" not in [c for c, _ in report.c2pa.validation_errors]


def test_watermark_and_xmp_are_reported(
    files: dict[str, Fixture], settings_for: dict[str, Settings]
) -> None:
    marked = run(files, settings_for["none"], "sd_watermark.png")
    assert [(w.kind, w.payload) for w in marked.watermarks] == [
        ("stable_diffusion", "StableDiffusionV1")
    ]
    assert marked.c2pa is None
    assert marked.xmp is None
    xmp = run(files, settings_for["none"], "xmp_composite.jpg").xmp
    assert xmp is not None
    assert xmp.digital_source_types == [
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    ]


def test_a_truncated_signed_video_never_raises(
    files: dict[str, Fixture], settings_for: dict[str, Settings]
) -> None:
    report = run(files, settings_for["none"], "truncated.mp4")
    assert report.summary in ("edited_after_signing", "no_provenance")
    assert report.summary == "edited_after_signing" or report.error is not None


def test_a_format_c2pa_cannot_read_is_skipped(settings_for: dict[str, Settings]) -> None:
    from pathlib import Path

    clip = Path(__file__).parents[1] / "fixtures" / "media" / "clip.webm"
    report = inspect(clip, kind="video", format="Matroska/WebM", settings=settings_for["none"])
    assert (report.summary, report.c2pa, report.error) == ("no_provenance", None, None)


def test_a_bug_is_reported_not_raised(
    files: dict[str, Fixture], settings_for: dict[str, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.provenance

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(api.provenance, "read_c2pa", boom)
    report = run(files, settings_for["none"], "ai.jpg")
    assert report.summary == "no_provenance"
    assert report.error is not None
    assert report.error.code == "internal_error"
