"""Schema-free descriptions of the wire contract, and how its bodies are written and read.

The generated package builds one :class:`Contract` from ``spec/chat.yaml`` (its ``contract``
module); the runtime uses it to reach routes by operation id, and the server uses it to register
its handlers and check parameters. Types named here (bodies, responses, event payloads) are the
generated msgspec structs, passed in as values: the runtime never imports them.

The wire's vocabulary (frames, method names, RPC error codes, event names, the error body, page
links) is defined once, in the generated ``_protocol`` module; the runtime receives it as a
:class:`Vocabulary` (``Contract.vocabulary``) and never spells a wire name itself.

Bodies are msgspec structs: every generated model is a :class:`Model`; :func:`encode` writes a
body as JSON and :func:`decoder` reads one into a given type (a decoder is built once per type).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote

import msgspec

from .errors import ErrorDetail

__all__ = [
    "Contract",
    "EventType",
    "Model",
    "Param",
    "Route",
    "RpcEvent",
    "RpcFailure",
    "RpcFrame",
    "RpcMethod",
    "Vocabulary",
    "decoder",
    "encode",
]

ParamLocation = Literal["path", "query", "header"]
AuthScheme = Literal["bearer", "basic", "none"]
RpcDirection = Literal["client", "server", "both"]


@dataclass(frozen=True, slots=True)
class Param:
    """One path, query or header parameter of a route."""

    name: str
    location: ParamLocation
    type: type
    required: bool = False
    default: object = None
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """One REST operation: where it lives, what it takes and what it answers."""

    operation_id: str
    method: str
    path: str
    auth: AuthScheme
    summary: str
    params: tuple[Param, ...] = ()
    body: type | None = None
    response: type | None = None
    status: int = 200
    errors: tuple[int, ...] = ()

    def param(self, name: str) -> Param:
        """Return the parameter called ``name``.

        Raises:
            KeyError: The route has no such parameter.
        """
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def expand(self, path_params: Mapping[str, str] | None = None) -> str:
        """Return the path with each ``{name}`` replaced by its percent-encoded value."""
        path = self.path
        for name, value in (path_params or {}).items():
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        return path


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One JSON-RPC method of the WebSocket, and who calls it."""

    name: str
    direction: RpcDirection
    summary: str
    params: type | None = None
    result: type | None = None


@dataclass(frozen=True, slots=True)
class EventType:
    """One ``signalwire.event`` type and the type of its inner ``params``."""

    name: str
    summary: str
    payload: type


class RpcFailure(Protocol):
    """The ``error`` member of a JSON-RPC response."""

    @property
    def code(self) -> int: ...
    @property
    def message(self) -> str: ...


class RpcFrame(Protocol):
    """One JSON-RPC object as read off the socket; ``params`` and ``result`` left raw."""

    @property
    def id(self) -> str | int | None: ...
    @property
    def method(self) -> str | None: ...
    @property
    def params(self) -> msgspec.Raw: ...
    @property
    def result(self) -> msgspec.Raw: ...
    @property
    def error(self) -> RpcFailure | None: ...


class RpcEvent(Protocol):
    """The ``params`` of an event frame: its type and its payload, left raw."""

    @property
    def event_type(self) -> str: ...
    @property
    def params(self) -> msgspec.Raw: ...


class PageLinksLike(Protocol):
    """The links of a page envelope; ``None`` means there is no such page."""

    @property
    def self(self) -> str | None: ...
    @property
    def next(self) -> str | None: ...
    @property
    def prev(self) -> str | None: ...


class PageEnvelope(Protocol):
    """A page as the server sends it: items and links."""

    @property
    def data(self) -> list[Any]: ...
    @property
    def links(self) -> PageLinksLike: ...


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The wire's words the runtime speaks, defined by the generated ``_protocol`` module.

    Attributes name the JSON-RPC methods and events by what the session does with them; the
    callables read and write the frames, the error body and the page envelope.
    """

    connect: str
    event: str
    decode_frame: Callable[[bytes | str], RpcFrame]
    decode_event: Callable[[msgspec.Raw], RpcEvent]
    request: Callable[[str, str, object], bytes]
    """``request(id, method, params)``: a request frame."""
    result: Callable[[str | int | None, object], bytes]
    """``result(id, result)``: a success response frame."""
    read_error: Callable[[bytes], ErrorDetail]
    """Read an HTTP error body (anything unreadable gives an empty :class:`ErrorDetail`)."""
    page_decoder: Callable[[Any], Callable[[bytes], PageEnvelope]]
    """Return the decoder of a page envelope whose items are of the given type."""
    connect_params: Callable[[str, str, str | None, str | None], object]
    """``connect_params(token, agent, protocol, authorization_state)`` of a connect request."""
    connect_protocol: Callable[[msgspec.Raw], str | None]
    """Read the ``protocol`` of a connect result."""
    ping: str | None = None
    disconnect: str | None = None
    reauthenticate: str | None = None
    reauthenticate_params: Callable[[str], object] | None = None
    ping_params: Callable[[], object] | None = None
    pong: Callable[[msgspec.Raw], object] | None = None
    """The result answering a ping whose params are given."""
    message_events: frozenset[str] = frozenset()
    authorization_state_event: str | None = None
    authorization_state: Callable[[msgspec.Raw], str | None] | None = None
    """Read the state of an authorization-state event."""
    token_refused: frozenset[int] = frozenset()
    resume_refused: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Contract:
    """Every route, JSON-RPC method and event of the protocol, and its vocabulary."""

    routes: tuple[Route, ...]
    rpc_methods: tuple[RpcMethod, ...] = ()
    events: tuple[EventType, ...] = ()
    vocabulary: Vocabulary | None = None
    _by_id: dict[str, Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {route.operation_id: route for route in self.routes})

    def route(self, operation_id: str) -> Route:
        """Return the route whose operation id is ``operation_id``.

        Raises:
            KeyError: No route has that operation id.
        """
        return self._by_id[operation_id]


# Bodies.


class Model(msgspec.Struct, kw_only=True):
    """The base of every generated model: a msgspec struct that converts itself to plain data.

    ``json.dumps(message)`` cannot encode a msgspec struct; ``message.to_dict()`` is the plain
    ``dict`` of it (what the wire carries: fields left at their default are left out where the
    model says so) and ``message.to_json()`` its JSON text.
    """

    def to_dict(self) -> dict[str, Any]:
        """Return the model as a ``dict`` of plain values (``json.dumps`` takes it)."""
        value: dict[str, Any] = msgspec.to_builtins(self)
        return value

    def to_json(self, *, indent: int = 0) -> str:
        """Return the model as JSON text; ``indent`` > 0 pretty-prints it."""
        data = msgspec.json.encode(self)
        if indent > 0:
            data = msgspec.json.format(data, indent=indent)
        return data.decode()


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
