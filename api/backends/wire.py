"""How crops travel to TF Serving's REST API. The format, not the network, dominates the cost
(DESIGN.md, 256 crops: JSON float lists 2234 ms / 64 MB, orjson floats 191 ms / 35 MB, orjson
uint8 53 ms / 13 MB; 17 face crops as PNG: 215 kB vs 885 kB as uint8 lists, and the server
parses 17 strings instead of 209k numbers).

- json:  `serving_default`, floats in [0, 1] as JSON lists from the stdlib encoder (the original
         service's format, kept for comparison and for models without compact signatures);
- float: `serving_default`, the same floats encoded with orjson straight from numpy;
- uint8: `serving_uint8`, the crops' own 0..255 bytes as JSON integers: no /255 on our side,
         same scores (the model divides in-graph), ~3x smaller than floats.
- png:   `serving_encoded`, each crop PNG-encoded (lossless: the same pixels, the same scores)
         and sent as {"b64": ...}, TF Serving's form for binary strings; decoded in-graph.
- auto:  the first of png, uint8, float whose signature the served version's metadata lists.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np
import orjson

from api.contract import (
    DEFAULT_SIGNATURE,
    ENCODED_SIGNATURE,
    UINT8_SIGNATURE,
    encode_crop,
    to_model_input,
)
from settings import WireFormat

SIGNATURES = {
    WireFormat.PNG: ENCODED_SIGNATURE,
    WireFormat.UINT8: UINT8_SIGNATURE,
    WireFormat.FLOAT: DEFAULT_SIGNATURE,
    WireFormat.JSON: DEFAULT_SIGNATURE,
}


@dataclass(frozen=True, slots=True)
class Encoder:
    wire: WireFormat
    signature: str

    def body(self, crops: np.ndarray) -> bytes:
        """The :predict request body for uint8 RGB crops [N, 64, 64, 3]."""
        if self.wire is WireFormat.PNG:
            return orjson.dumps(
                {"signature_name": self.signature, "instances": [_b64_png(c) for c in crops]}
            )
        if self.wire is WireFormat.UINT8:
            return orjson.dumps(
                {"signature_name": self.signature, "instances": crops},
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
        batch = to_model_input(crops)
        if self.wire is WireFormat.JSON:
            return json.dumps(
                {"signature_name": self.signature, "instances": batch.tolist()}
            ).encode()
        return orjson.dumps(
            {"signature_name": self.signature, "instances": batch},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )


def encoder_for(wire: WireFormat, signatures: set[str] | None = None) -> Encoder:
    """The encoder for a wire format; AUTO needs the served version's signature names."""
    if wire is WireFormat.AUTO:
        compact = (WireFormat.PNG, WireFormat.UINT8)
        wire = next((w for w in compact if SIGNATURES[w] in (signatures or ())), WireFormat.FLOAT)
    return Encoder(wire, SIGNATURES[wire])


def _b64_png(crop: np.ndarray) -> dict[str, str]:
    return {"b64": base64.b64encode(encode_crop(crop)).decode("ascii")}
