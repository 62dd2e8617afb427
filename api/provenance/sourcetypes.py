"""The IPTC digital source type vocabulary, sorted by what each value says about AI.

https://cv.iptc.org/newscodes/digitalsourcetype/ : C2PA actions and the XMP field
Iptc4xmpExt:DigitalSourceType carry these URIs; some writers put the bare code. C2PA adds
http://c2pa.org/digitalsourcetype/ values (trainedAlgorithmicData, empty).
"""

from __future__ import annotations

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# Made by a generative model from nothing captured.
AI_GENERATED = frozenset({"trainedAlgorithmicMedia", "trainedAlgorithmicData"})
# Captured or human-made material mixed with generated parts (generative fill, composites).
AI_EDITED = frozenset({"compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"})
# A camera (or film scan) recorded it. Only a trusted signer's word for it counts.
CAPTURED = frozenset(
    {
        "digitalCapture",
        "computationalCapture",
        "compositeCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
    }
)
# The rest (algorithmicMedia: procedural, not trained; algorithmicallyEnhanced; humanEdits;
# digitalCreation; screenCapture; virtualRecording; dataDrivenMedia; composite) is reported
# as found but moves the summary neither way.


def code(value: str) -> str:
    """The bare code of a source type: the last path segment of a URI, or the value itself."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def is_ai_generated(value: str | None) -> bool:
    return value is not None and code(value) in AI_GENERATED


def is_ai_edited(value: str | None) -> bool:
    return value is not None and code(value) in AI_EDITED


def is_captured(value: str | None) -> bool:
    return value is not None and code(value) in CAPTURED
