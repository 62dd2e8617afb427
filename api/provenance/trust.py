"""The operator's C2PA trust anchors (C2PA_TRUST_ANCHORS): a PEM bundle of CA certificates.

A manifest is only as good as whoever signed it: anyone can make a certificate and sign
"captured by a camera". So nothing is trusted unless an operator names the CAs they accept;
without a bundle every signer is reported untrusted, the honest default.

The bundle is read and checked once per (path, mtime, size), so replacing the file takes effect
on the next upload without re-reading it on every one.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cryptography import x509

# One bundle is enough for a real list: the C2PA trust list is a few hundred KB.
MAX_BUNDLE_BYTES = 8 * 1024 * 1024

_lock = threading.Lock()
_cache: dict[tuple[str, int, int], str] = {}


class TrustAnchorsError(ValueError):
    """The configured bundle cannot be used; the message says why and which file."""


def load_trust_anchors(path: Path) -> str:
    """The bundle's PEM text, checked to hold at least one parseable CA certificate."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise TrustAnchorsError(f"C2PA_TRUST_ANCHORS={path}: cannot be read ({exc})") from exc
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    if stat.st_size > MAX_BUNDLE_BYTES:
        raise TrustAnchorsError(
            f"C2PA_TRUST_ANCHORS={path}: {stat.st_size} bytes, more than {MAX_BUNDLE_BYTES}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrustAnchorsError(f"C2PA_TRUST_ANCHORS={path}: cannot be read ({exc})") from exc
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TrustAnchorsError(
            f"C2PA_TRUST_ANCHORS={path}: not a PEM bundle of X.509 certificates ({exc})"
        ) from exc
    if not certificates:  # pragma: no cover - cryptography raises on an empty bundle
        raise TrustAnchorsError(f"C2PA_TRUST_ANCHORS={path}: no certificate in the bundle")
    text = data.decode("ascii", errors="replace")
    with _lock:
        _cache.clear()  # one bundle is configured at a time: drop the previous version
        _cache[key] = text
    return text


def check_trust_anchors(path: Path | None) -> int:
    """For start-up: the number of anchors in the bundle at `path` (0 when none is
    configured); raises TrustAnchorsError with a message naming the file otherwise."""
    if path is None:
        return 0
    text = load_trust_anchors(path)
    return len(x509.load_pem_x509_certificates(text.encode("ascii")))
