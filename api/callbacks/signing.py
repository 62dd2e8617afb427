"""Signing a callback body, and a receiver's check of one (`verify`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"


def sign(body: bytes, secret: bytes) -> str:
    """The X-Signature value for `body`: "sha256=" and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(
    body: bytes, headers: Mapping[str, str], secret: bytes, *, max_age: float, now: float
) -> bool:
    """A receiver's check of one callback: True when the body is signed with `secret`, the
    X-Signature-Timestamp header equals the body's callback.sent_at and is at most `max_age`
    seconds from `now` (unix seconds). `body` is the raw request body, before any JSON parsing;
    header names are matched case-insensitively."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    # compare_digest: the comparison takes as long whichever byte differs, so an attacker
    # cannot find the signature byte by byte from response times.
    if not hmac.compare_digest(sign(body, secret).encode(), signature.encode()):
        return False
    try:
        stamp = int(lowered[TIMESTAMP_HEADER.lower()])
    except (KeyError, ValueError):
        return False
    if abs(now - stamp) > max_age:
        return False
    try:
        sent_at = json.loads(body)["callback"]["sent_at"]
    except (ValueError, KeyError, TypeError):
        return False
    # The header is not signed; the body is. Equal values mean the signed time is the one checked.
    return type(sent_at) is int and sent_at == stamp
