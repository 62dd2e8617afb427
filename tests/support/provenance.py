"""Files with provenance for tests, made at test time: no key or certificate is committed.

- Pki: a throwaway ES256 CA and a leaf signer certificate (cryptography), shaped the way
  c2pa-rs's certificate profile wants them: the signer is not a CA and not self-signed, has
  digitalSignature key usage and an EKU (emailProtection), and is valid now.
- sign(): C2PA Content Credentials with c2pa.Builder, embedded into JPEG, PNG or MP4 bytes.
- tamper(): bytes of the picture changed after signing, so the data hash no longer matches.
- with_xmp(): a JPEG with an XMP APP1 segment that declares a DigitalSourceType.
- sd_watermark(): invisible-watermark's own dwtDct encoder (its maxDct.py loaded by path: the
  package's __init__ imports torch, which is not installed), as the Stable Diffusion scripts
  call it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import struct
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import c2pa
import cv2
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_AI = IPTC + "compositeWithTrainedAlgorithmicMedia"
CAPTURE = IPTC + "digitalCapture"


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(common_name, "Provenance Test CAs")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes  # the anchor that makes the signer trusted
    other_ca_pem: bytes  # an unrelated CA: trusting it trusts nobody here
    chain_pem: bytes  # the signer's certificate then the CA's
    key_pem: bytes

    def signer(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, None)
        return c2pa.Signer.from_info(info)


SIGNER_NAME = "Test Camera Signer"
SIGNER_ORG = "Provenance Test Org"


def make_pki() -> Pki:
    ca_key, ca = make_ca("Provenance Test Root")
    _, other = make_ca("Unrelated Test Root")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(SIGNER_NAME, SIGNER_ORG))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Pki(
        ca_pem=_pem(ca),
        other_ca_pem=_pem(other),
        chain_pem=_pem(leaf) + _pem(ca),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def manifest(
    *actions: dict[str, Any], title: str = "test", generator: str = "provenance-tests"
) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": list(actions)}}],
    }


def created(source_type: str, agent: str = "Test Generator") -> dict[str, Any]:
    return {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}


def sign(
    pki: Pki,
    data: bytes,
    mime: str,
    definition: dict[str, Any],
    *,
    parent: tuple[bytes, str] | None = None,
) -> bytes:
    """`data` with Content Credentials embedded; `parent` (bytes, mime) becomes its parentOf
    ingredient, with its own manifest if it has one."""
    builder = c2pa.Builder(definition)
    if parent is not None:
        builder.add_ingredient(
            {"title": "parent", "relationship": "parentOf", "label": "parent"},
            parent[1],
            io.BytesIO(parent[0]),
        )
    out = io.BytesIO()
    builder.sign(pki.signer(), mime, io.BytesIO(data), out)
    return out.getvalue()


def opened_and_edited(source_type: str | None = None) -> list[dict[str, Any]]:
    """The actions of an edit of the `parent` ingredient (c2pa-rs wants it referenced)."""
    edit: dict[str, Any] = {"action": "c2pa.edited", "softwareAgent": "Test Editor"}
    if source_type:
        edit["digitalSourceType"] = source_type
    return [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}, edit]


def photo_jpeg(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG of smooth shapes and noise (a real encoder's output, not a fixed blob)."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = np.full((h, w, 3), 120, np.uint8)
    for _ in range(6):
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(image, center, int(rng.integers(10, 80)), color, -1)
    noise = rng.integers(0, 20, image.shape, dtype=np.uint8)
    image = np.asarray(cv2.add(image, noise), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return bytes(encoded.tobytes())


def tamper(data: bytes, *, at: float = 0.9) -> bytes:
    """`data` with a few bytes of its picture (or mdat) inverted after signing: the manifest
    still parses, its data hash does not match. `at` is the share of the file where."""
    out = bytearray(data)
    i = int(len(out) * at)
    for k in range(i, i + 4):
        if out[k] != 0xFF and out[k] ^ 0x55 != 0xFF:  # no accidental JPEG marker
            out[k] ^= 0x55
    return bytes(out)


XMP_TEMPLATE = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    {body}
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def xmp_packet(source_type: str, *, form: str = "attribute") -> bytes:
    """An XMP packet declaring `source_type` in the attribute or the element form."""
    if form == "attribute":
        body = f'Iptc4xmpExt:DigitalSourceType="{source_type}"/>'
    else:
        tag = "Iptc4xmpExt:DigitalSourceType"
        body = f">\n   <{tag}>{source_type}</{tag}>\n  </rdf:Description>"
    return XMP_TEMPLATE.format(body=body).encode("utf-8")


def with_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """`jpeg` with an APP1 XMP segment (the "http://ns.adobe.com/xap/1.0/\\0" namespace
    header, then the packet) right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def _maxdct() -> ModuleType:
    spec = importlib.util.find_spec("imwatermark")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "maxDct.py"
    module_spec = importlib.util.spec_from_file_location("_imwatermark_maxdct", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def maxdct() -> ModuleType:
    """invisible-watermark's maxDct module (EmbedMaxDct), without the package's __init__."""
    global _MAXDCT
    if _MAXDCT is None:
        _MAXDCT = _maxdct()
    return _MAXDCT


_MAXDCT: ModuleType | None = None


def sd_watermark(bgr: np.ndarray, content: bytes = b"StableDiffusionV1") -> np.ndarray:
    """`bgr` marked as the SD reference scripts mark their output: WatermarkEncoder's
    set_watermark('bytes', content) then encode(bgr, 'dwtDct') is exactly this."""
    bits = list(np.unpackbits(np.frombuffer(content, dtype=np.uint8)))
    marked: np.ndarray = maxdct().EmbedMaxDct(bits, wmLen=len(bits)).encode(bgr)
    return marked


def reference_decode(bgr: np.ndarray, length: int) -> list[bool]:
    """The package's own decoder's bits (EmbedMaxDct.decode), to check ours against."""
    bits = maxdct().EmbedMaxDct([], wmLen=length).decode(bgr)
    return [bool(b) for b in bits]
