"""How crops travel to TF Serving's REST API. The format, not the network, dominates the cost
(DESIGN.md, 256 crops: JSON float lists 2234 ms / 64 MB, orjson floats 191 ms / 35 MB, orjson
uint8 53 ms / 13 MB).

- json:  `serving_default`, floats in [0, 1] as JSON lists from the stdlib encoder (the original
         service's format, kept for comparison and for models without compact signatures);
- float: `serving_default`, the same floats encoded with orjson straight from numpy;
- uint8: `serving_uint8`, the crops' own 0..255 bytes as JSON integers: no /255 on our side,
         same scores (the model divides in-graph), ~3x smaller than floats.
- auto:  uint8 when the served version's metadata lists `serving_uint8`, else float.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import orjson

from api.pipeline.batching import to_model_input
from settings import WireFormat

UINT8_SIGNATURE = "serving_uint8"


@dataclass(frozen=True, slots=True)
class Encoder:
    wire: WireFormat
    signature: str

    def body(self, crops: np.ndarray) -> bytes:
        """The :predict request body for uint8 RGB crops [N, 64, 64, 3]."""
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
        wire = (
            WireFormat.UINT8 if signatures and UINT8_SIGNATURE in signatures else WireFormat.FLOAT
        )
    signature = UINT8_SIGNATURE if wire is WireFormat.UINT8 else "serving_default"
    return Encoder(wire, signature)
