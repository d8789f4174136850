"""Wire shapes the engine needs, and decoders built once per type and reused."""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

import msgspec

from . import errors

__all__ = [
    "ErrorBody",
    "EventParams",
    "Frame",
    "JoinResult",
    "Links",
    "MessageKey",
    "SubscriberInfo",
    "decoder",
    "encode",
    "envelope_decoder",
    "error_from_response",
    "has_field",
    "struct_fields",
]

T = TypeVar("T")


class Links(msgspec.Struct):
    """The ``links`` of a page envelope; a missing key means there is no such page."""

    self: str | None = None
    first: str | None = None
    next: str | None = None
    prev: str | None = None


class Envelope(msgspec.Struct, Generic[T]):
    """A page of items as the server sends it."""

    data: list[T] = msgspec.field(default_factory=list)
    links: Links = msgspec.field(default_factory=Links)


class MessageKey(msgspec.Struct):
    """The fields of a conversation message that routing and ordering need."""

    id: str
    ts: float = 0.0
    group_id: str | None = None
    conversation_id: str | None = None
    subtype: str | None = None


class _Address(msgspec.Struct):
    id: str


class SubscriberInfo(msgspec.Struct):
    """The part of ``GET /api/fabric/subscriber/info`` the engine needs."""

    id: str = ""
    fabric_addresses: list[_Address] = msgspec.field(default_factory=list)


class JoinResult(msgspec.Struct):
    """The part of a join answer the engine needs."""

    group_id: str


class RpcError(msgspec.Struct):
    """A JSON-RPC error object."""

    code: int = 0
    message: str = ""


class Frame(msgspec.Struct):
    """One JSON-RPC 2.0 object: a request, a notification or a response."""

    id: str | int | None = None
    method: str | None = None
    params: msgspec.Raw = msgspec.Raw(b"null")
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: RpcError | None = None


class EventParams(msgspec.Struct):
    """The ``params`` of a ``signalwire.event``; ``params`` is the payload, left raw."""

    event_type: str = ""
    params: msgspec.Raw = msgspec.Raw(b"null")


class ErrorItem(msgspec.Struct):
    """One entry of the error body."""

    type: str = ""
    code: str = ""
    message: str = ""
    attribute: str | None = None


class ErrorBody(msgspec.Struct):
    """``{"errors": [...]}``."""

    errors: list[ErrorItem] = msgspec.field(default_factory=list)


_encoder = msgspec.json.Encoder()
_decode_error = msgspec.json.Decoder(ErrorBody).decode


def encode(value: object) -> bytes:
    """Encode a struct, mapping or list as JSON."""
    return _encoder.encode(value)


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """Return the JSON decoder for ``type_``, built on first use and reused after."""
    found = _decoders.get(type_)
    if found is None:
        found = _decoders[type_] = msgspec.json.Decoder(type_)
    return found


def envelope_decoder(item_type: Any) -> msgspec.json.Decoder[Any]:
    """Return the (cached) decoder of a page envelope whose items are ``item_type``."""
    return decoder(Envelope[item_type])


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


def error_from_response(
    status: int, body: bytes, retry_after: float | None
) -> errors.APIStatusError:
    """Map an error answer (status and ``{"errors": [...]}`` body) to an :class:`APIError`."""
    try:
        items = _decode_error(body).errors
    except (msgspec.DecodeError, msgspec.ValidationError):
        items = []
    first = items[0] if items else ErrorItem()
    message = first.message or f"HTTP {status}"
    cls = errors.error_for_status(status)
    if cls is errors.RateLimitError:
        return errors.RateLimitError(
            message,
            status=status,
            code=first.code,
            attribute=first.attribute,
            retry_after=retry_after,
        )
    return cls(message, status=status, code=first.code, attribute=first.attribute)
