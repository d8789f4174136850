"""JSON encoding, and decoders built once per type and reused (msgspec only, no schema)."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

__all__ = ["decoder", "encode", "has_field", "struct_fields"]

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


@functools.cache
def struct_fields(type_: Any) -> tuple[msgspec.structs.FieldInfo, ...]:
    """Return the fields of the struct type ``type_`` (empty for any other type), computed once.

    ``msgspec.structs.fields`` resolves string annotations on every call, which costs more than
    decoding a page; the engine asks on every call, so the answer is kept per type.
    """
    try:
        return msgspec.structs.fields(type_)
    except TypeError:
        return ()


def has_field(type_: Any, name: str) -> bool:
    """Whether the struct type ``type_`` has a field called ``name``."""
    return any(f.name == name for f in struct_fields(type_))
