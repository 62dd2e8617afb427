"""Provenance of an upload: what the file itself declares about where it came from.

Plain functions over a file path (no web framework), run on every upload next to detection:
- C2PA Content Credentials, read and validated by c2pa-rs (c2pa_reader), the signer checked
  against the operator's trust anchors (trust);
- the IPTC DigitalSourceType in the file's XMP (xmp);
- the Stable Diffusion reference watermark, in lossless images (watermark);
and one summary with a sentence for the user (summary).

`inspect` never raises for a bad file: what cannot be read is reported in `error`, and the
detector's answer does not depend on it. It is synchronous and bounded (PROVENANCE_TIMEOUT,
size caps per check); callers run it on their worker pool.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

from api.provenance.c2pa_reader import read_c2pa
from api.provenance.formats import is_lossless_image
from api.provenance.report import (
    Action,
    C2paReport,
    ProvenanceError,
    ProvenanceReport,
    SignerInfo,
    Summary,
    Watermark,
    XmpReport,
)
from api.provenance.summary import summarize
from api.provenance.trust import TrustAnchorsError, check_trust_anchors, load_trust_anchors
from api.provenance.watermark import find_watermarks
from api.provenance.xmp import read_xmp
from settings import Settings

__all__ = [
    "Action",
    "C2paReport",
    "ProvenanceError",
    "ProvenanceReport",
    "SignerInfo",
    "Summary",
    "TrustAnchorsError",
    "Watermark",
    "XmpReport",
    "check_trust_anchors",
    "inspect",
]

log = logging.getLogger(__name__)


def inspect(
    path: Path, *, kind: Literal["video", "image"], format: str, settings: Settings
) -> ProvenanceReport:
    """The provenance report of the upload at `path` (`format` as api.pipeline.sniff names
    it). Never raises for bad input."""
    start = time.perf_counter()
    try:
        return _inspect(path, kind, format, settings, start)
    except Exception as exc:  # a bug here must not fail detection: report it, log it
        log.exception("provenance inspection failed for a %s upload", format)
        error = ProvenanceError(
            "internal_error", f"provenance could not be checked ({type(exc).__name__})"
        )
        summary, message = summarize(None, None, [], error)
        return ProvenanceReport(
            summary, message, None, None, [], error, time.perf_counter() - start
        )


def _inspect(
    path: Path, kind: str, format: str, settings: Settings, start: float
) -> ProvenanceReport:
    errors: list[ProvenanceError] = []
    anchors: str | None = None
    if settings.C2PA_TRUST_ANCHORS is not None:
        try:
            anchors = load_trust_anchors(settings.C2PA_TRUST_ANCHORS)
        except TrustAnchorsError as exc:
            # Checked at start-up; if the file went away since, nothing is trusted.
            errors.append(ProvenanceError("trust_anchors_unreadable", str(exc)))
    outcome = read_c2pa(path, format, trust_anchors=anchors, timeout=settings.PROVENANCE_TIMEOUT)
    if outcome.error is not None:
        errors.insert(0, outcome.error)
    xmp, xmp_error = read_xmp(path, video=kind == "video")
    if xmp_error is not None:
        errors.append(xmp_error)
    watermarks: list[Watermark] = []
    if kind == "image" and is_lossless_image(path, format):
        watermarks = find_watermarks(path)
    error = errors[0] if errors else None
    summary, message = summarize(outcome.report, xmp, watermarks, error)
    return ProvenanceReport(
        summary=summary,
        message=message,
        c2pa=outcome.report,
        xmp=xmp,
        watermarks=watermarks,
        error=error,
        seconds=time.perf_counter() - start,
    )
