"""Schema-free descriptions of the wire contract.

The generated package builds one :class:`Contract` from ``spec/chat.yaml`` (its ``contract``
module); the runtime uses it to reach routes by operation id, and the server uses it to register
its handlers and check parameters. Types named here (bodies, responses, event payloads) are the
generated msgspec structs, passed in as values: the runtime never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

__all__ = ["Contract", "EventType", "Param", "Route", "RpcMethod"]

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


@dataclass(frozen=True, slots=True)
class Contract:
    """Every route, JSON-RPC method and event of the protocol."""

    routes: tuple[Route, ...]
    rpc_methods: tuple[RpcMethod, ...] = ()
    events: tuple[EventType, ...] = ()
    _by_id: dict[str, Route] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {route.operation_id: route for route in self.routes})

    def route(self, operation_id: str) -> Route:
        """Return the route whose operation id is ``operation_id``.

        Raises:
            KeyError: No route has that operation id.
        """
        return self._by_id[operation_id]
