"""JSON encoding, and decoders built once per type and reused (msgspec only, no schema)."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["decoder", "encode"]

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def encode(value: object) -> bytes:
    """Encode a struct, mapping or list as JSON."""
    return _encoder.encode(value)


def decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """Return the JSON decoder for ``type_``, built on first use and reused after."""
    found = _decoders.get(type_)
    if found is None:
        found = _decoders[type_] = msgspec.json.Decoder(type_)
    return found
