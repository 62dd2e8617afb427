"""What api.provenance reports: plain frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Summary = Literal[
    "declared_ai_generated",
    "declared_ai_edited",
    "declared_captured",
    "edited_after_signing",
    "no_provenance",
]


@dataclass(frozen=True)
class SignerInfo:
    issuer: str | None  # the signing certificate's organisation (c2pa-rs: subject O)
    common_name: str | None


@dataclass(frozen=True)
class Action:
    action: str  # "c2pa.created", "c2pa.edited", ...
    digital_source_type: str | None  # the full IPTC URI as signed
    software_agent: str | None


@dataclass(frozen=True)
class C2paReport:
    validation: Literal["valid", "invalid"]
    # (code, explanation) of each failure of the active manifest; the trust verdict
    # (signingCredential.untrusted) is `trusted`, not an error.
    validation_errors: list[tuple[str, str]]
    trusted: bool  # a C2PA_TRUST_ANCHORS bundle is configured and the signer chains to it
    claim_generator: str | None
    title: str | None
    signer: SignerInfo
    signed_at: str | None  # RFC 3339, from a timestamp authority's countersignature only
    actions: list[Action]
    ingredients: int
    ai_ingredient: bool  # an ingredient's own manifest declares AI generation


@dataclass(frozen=True)
class XmpReport:
    digital_source_types: list[str]  # as found: full IPTC URIs or bare codes


@dataclass(frozen=True)
class Watermark:
    kind: str  # "stable_diffusion" (v1 scripts) or "stable_diffusion_xl"
    payload: str  # "StableDiffusionV1", or the SDXL bit string


@dataclass(frozen=True)
class ProvenanceError:
    code: str  # c2pa_malformed, c2pa_timeout, c2pa_too_large, xmp_malformed, internal_error
    message: str


@dataclass(frozen=True)
class ProvenanceReport:
    summary: Summary
    message: str  # one sentence for the user: what the summary means for this file
    c2pa: C2paReport | None  # None: no manifest, a format c2pa cannot read, or unreadable
    xmp: XmpReport | None  # None: no DigitalSourceType in the XMP read
    watermarks: list[Watermark]
    error: ProvenanceError | None  # something could not be read; the rest is still reported
    seconds: float
