"""Outgoing JSON-RPC 2.0 frames of the WebSocket (§7), encoded once with msgspec."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
from fabric_chat.models import RpcError

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LIMIT_EXCEEDED",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RESUME_REFUSED",
    "TOKEN_ERROR",
    "error_frame",
    "event_frame",
    "request_frame",
    "result_frame",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TOKEN_ERROR = -32002
RESUME_REFUSED = -32003
LIMIT_EXCEEDED = -32005  # too many sockets or connects for one caller: retry later

RpcId = str | int | None


class _Result(msgspec.Struct):
    jsonrpc: str
    id: RpcId
    result: Any


class _Error(msgspec.Struct):
    jsonrpc: str
    id: RpcId
    error: RpcError


class _Request(msgspec.Struct):
    jsonrpc: str
    id: str
    method: str
    params: Any


class _EventParams(msgspec.Struct):
    event_type: str
    event_channel: str
    timestamp: float
    is_author: bool
    params: Any


_encoder = msgspec.json.Encoder()


def _text(value: msgspec.Struct) -> bytes:
    return _encoder.encode(value)


def result_frame(request_id: RpcId, result: Any) -> bytes:
    """Return a success response to ``request_id``."""
    return _text(_Result("2.0", request_id, result))


def error_frame(request_id: RpcId, code: int, message: str) -> bytes:
    """Return an error response to ``request_id`` (``None`` when it could not be read)."""
    return _text(_Error("2.0", request_id, RpcError(code=code, message=message)))


def request_frame(method: str, params: Any, *, request_id: str | None = None) -> tuple[str, bytes]:
    """Return ``(id, frame)`` of a server-to-client request (a fresh uuid4 id unless given)."""
    if request_id is None:
        request_id = str(uuid.uuid4())
    return request_id, _text(_Request("2.0", request_id, method, params))


def event_frame(
    event_type: str,
    *,
    channel: str,
    is_author: bool,
    payload: Any,
    event_id: str | None = None,
) -> tuple[str, bytes]:
    """Return ``(event id, frame)`` of a ``signalwire.event`` with ``payload`` nested in params.

    ``payload`` may be a ``msgspec.Raw`` already encoded, so that one message fanned out to many
    sockets is encoded once.
    """
    params = _EventParams(event_type, channel, time.time(), is_author, payload)
    return request_frame("signalwire.event", params, request_id=event_id)
