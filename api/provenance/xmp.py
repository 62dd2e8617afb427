"""DigitalSourceType declared in a file's XMP packets (IPTC Photo Metadata), read bounded.

Generators that write no C2PA manifest still often say what they made in XMP (the IPTC
"Digital Source Type" property, Iptc4xmpExt:DigitalSourceType, also written by C2PA-era tools
next to their manifest). XMP is not signed: it can only lower trust, never raise it.

Only the first HEAD_BYTES of the file are read (and the last TAIL_BYTES of a video, where an
MP4 written moov-last keeps its metadata): XMP packets sit in the header segments, chunks and
boxes of every format read here. Packets are parsed with defusedxml: no DTD, no entity, so
neither a billion-laughs packet nor an external entity gets expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from api.provenance.report import ProvenanceError, XmpReport

HEAD_BYTES = 4 * 1024 * 1024
TAIL_BYTES = 1024 * 1024
MAX_PACKET_BYTES = 1024 * 1024
MAX_PACKETS = 16

# Property local names that carry the source type: the current IPTC one, and its
# predecessor (IPTC Extension 1.0's DigitalSourceFileType, deprecated in 2009).
_PROPERTIES = frozenset({"DigitalSourceType", "DigitalSourceFileType"})
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# Packet delimiters, outermost first: x:xmpmeta wraps rdf:RDF; bare rdf:RDF also occurs.
_DELIMITERS = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>"))


def read_xmp(path: Path, *, video: bool) -> tuple[XmpReport | None, ProvenanceError | None]:
    """The DigitalSourceType values in the file's XMP, None when there is none."""
    with path.open("rb") as f:
        data = f.read(HEAD_BYTES)
        if video:
            size = f.seek(0, 2)
            if size > HEAD_BYTES:
                f.seek(max(HEAD_BYTES, size - TAIL_BYTES))
                data += b"\n" + f.read(TAIL_BYTES)
    return source_types(data)


def source_types(data: bytes) -> tuple[XmpReport | None, ProvenanceError | None]:
    """The DigitalSourceType values of the XMP packets found in `data`."""
    found: list[str] = []
    error: ProvenanceError | None = None
    if b"DigitalSource" not in data:  # the common case: nothing to parse
        return None, None
    for packet in _packets(data):
        if b"DigitalSource" not in packet:
            continue
        try:
            root = defused_fromstring(packet, forbid_dtd=True)
        except (ET.ParseError, DefusedXmlException, ValueError) as exc:
            error = ProvenanceError("xmp_malformed", f"an XMP packet cannot be parsed ({exc})")
            continue
        for value in _values(root):
            if value not in found:
                found.append(value)
    return (XmpReport(found) if found else None), error


def _packets(data: bytes) -> list[bytes]:
    """Up to MAX_PACKETS packets of at most MAX_PACKET_BYTES each. Each end is looked for only
    within MAX_PACKET_BYTES of its start, so unclosed starts cannot make this quadratic."""
    for start_tag, end_tag in _DELIMITERS:
        packets: list[bytes] = []
        start = data.find(start_tag)
        attempts = 0
        while start >= 0 and attempts < 4 * MAX_PACKETS and len(packets) < MAX_PACKETS:
            attempts += 1
            end = data.find(end_tag, start, start + MAX_PACKET_BYTES)
            if end < 0:
                start = data.find(start_tag, start + len(start_tag))
                continue
            end += len(end_tag)
            packets.append(data[start:end])
            start = data.find(start_tag, end)
        if packets:
            return packets
    return []


def _values(root: ET.Element) -> list[str]:
    values: list[str] = []
    for element in root.iter():
        # Attribute form: <rdf:Description Iptc4xmpExt:DigitalSourceType="http://...">
        for name, value in element.attrib.items():
            if _local(name) in _PROPERTIES and value.strip():
                values.append(value.strip())
        if _local(element.tag) not in _PROPERTIES:
            continue
        # Element forms: text, an rdf:resource attribute, or either inside rdf:Description /
        # rdf:value / an rdf:Bag (some writers use a structure).
        resource = element.get(f"{{{_RDF}}}resource")
        if resource and resource.strip():
            values.append(resource.strip())
        for node in element.iter():
            if node.text and node.text.strip():
                values.append(node.text.strip())
            resource = node.get(f"{{{_RDF}}}resource") if node is not element else None
            if resource and resource.strip():
                values.append(resource.strip())
    return values


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
