"""The typed intermediate representation the templates see: never raw YAML.

Names, Python annotations, signatures, imports and order are computed in Python by
:mod:`codegen.build`; templates only place them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClientIR",
    "EventIR",
    "FieldIR",
    "FieldRuleIR",
    "LimitIR",
    "MethodIR",
    "MethodParamIR",
    "NamespaceIR",
    "ObjectIR",
    "PackageIR",
    "ParamIR",
    "RouteIR",
    "RpcErrorIR",
    "RpcMethodIR",
    "SdkTypeIR",
    "StatusIR",
]


@dataclass(frozen=True, slots=True)
class FieldIR:
    """One property of an object."""

    name: str
    type_label: str
    """The type as the docs show it, e.g. ``str | None`` or ``list[Address]``."""
    type_anchor: str | None
    """The reference's anchor of the object the type names, if it names one."""
    required: bool
    default_label: str
    """The default as the docs show it (``-`` when required)."""
    description: str
    known_values: tuple[str, ...]
    json_schema: dict[str, Any]
    """The property's JSON Schema with references as ``#/components/schemas/Name``."""


@dataclass(frozen=True, slots=True)
class ObjectIR:
    """One object of the spec: a generated msgspec struct and a schema of the exports."""

    name: str
    description: str
    fields: tuple[FieldIR, ...]
    required: tuple[str, ...]
    example: dict[str, Any]
    example_json: str
    json_schema: dict[str, Any]
    """The object's JSON Schema with references as ``#/components/schemas/Name``."""
    omit_defaults: bool
    """Whether encoding leaves out fields equal to their default."""
    article: str
    """``a`` or ``an``, as the reference writes "an example of a(n) Name object"."""
    anchor: str
    """The Markdown anchor of the object's section in the reference."""


@dataclass(frozen=True, slots=True)
class LimitIR:
    """One limit of the spec's ``limits``, with the places that name it."""

    name: str
    value: int | str
    py_type: str
    """``int`` or ``str``: the type of the limit's field in the generated ``Limits``."""
    unit: str
    description: str
    used_by: tuple[str, ...]
    """``Object.field`` and ``operationId param`` that name the limit."""


@dataclass(frozen=True, slots=True)
class FieldRuleIR:
    """The limits of one property, as the keyword arguments of the generated ``FieldRule``."""

    object: str
    field: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ParamIR:
    """One path, query or header parameter of a route."""

    name: str
    location: str
    py_type: str
    json_type: str
    required: bool
    default: object
    minimum: int | None
    maximum: int | None
    max_length: int | None
    pattern: str | None
    description: str


@dataclass(frozen=True, slots=True)
class StatusIR:
    """One error status of a route and what it means."""

    code: int
    description: str


@dataclass(frozen=True, slots=True)
class RouteIR:
    """One REST operation."""

    operation_id: str
    method: str
    path: str
    auth: str
    summary: str
    params: tuple[ParamIR, ...]
    body: str | None
    response: str
    status: int
    errors: tuple[StatusIR, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RpcErrorIR:
    """One JSON-RPC error code of the WebSocket."""

    code: int
    description: str


@dataclass(frozen=True, slots=True)
class RpcMethodIR:
    """One JSON-RPC method of the WebSocket."""

    name: str
    direction: str
    summary: str
    params: str
    result: str
    errors: tuple[RpcErrorIR, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventIR:
    """One ``signalwire.event`` type."""

    name: str
    summary: str
    payload: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MethodParamIR:
    """One keyword-only argument of a generated SDK method."""

    name: str
    js_name: str | None
    annotation: str
    default: str | None
    """The Python default expression, or None when the argument is required."""
    description: str
    check: str | None
    """The validation statement run before the engine call, or None."""
    doc_type: str
    doc_default: str


@dataclass(frozen=True, slots=True)
class MethodIR:
    """One generated SDK method and the engine call it makes."""

    py_name: str
    js_name: str | None
    js_signature: str | None
    """The seed page's JavaScript signature, where it gives one."""
    is_async: bool
    params: tuple[MethodParamIR, ...]
    signature: str
    """Everything after ``self, *, `` in the ``def`` line."""
    doc_signature: str
    """The ``def`` line as the reference shows it: one line, or one parameter a line."""
    returns_refs: tuple[tuple[str, str], ...]
    """(name, anchor) of each documented type the return type names."""
    returns: str
    returns_doc: str
    summary: str
    description: str
    raises: tuple[tuple[str, str], ...]
    call: str
    """The engine call expression, e.g. ``self._engine.join(address_id, result_type=...)``."""
    example: str


@dataclass(frozen=True, slots=True)
class SdkTypeIR:
    """A runtime result type the reference documents (``Page``, ``Subscription``, ...)."""

    name: str
    description: str
    members: tuple[tuple[str, str], ...]
    anchor: str


@dataclass(frozen=True, slots=True)
class NamespaceIR:
    """One SDK namespace (``client.chat``, ``client.conversation``)."""

    attr: str
    class_name: str
    description: str
    methods: tuple[MethodIR, ...]


@dataclass(frozen=True, slots=True)
class ClientIR:
    """The generated ``Client`` class."""

    class_name: str
    namespaces: tuple[NamespaceIR, ...]
    methods: tuple[MethodIR, ...]


@dataclass(frozen=True, slots=True)
class PackageIR:
    """Everything the templates render."""

    title: str
    version: str
    description: str
    server: str
    ws_path: str
    objects: tuple[ObjectIR, ...]
    routes: tuple[RouteIR, ...]
    statuses: tuple[StatusIR, ...]
    rpc_methods: tuple[RpcMethodIR, ...]
    rpc_errors: tuple[RpcErrorIR, ...]
    events: tuple[EventIR, ...]
    client: ClientIR
    sdk_types: tuple[SdkTypeIR, ...]
    anchors: dict[str, str]
    """The reference's anchor of each documented object and SDK type, by name."""
    error_classes: tuple[str, ...]
    namespace_imports: tuple[str, ...]
    """Model names the namespaces module imports."""
    client_imports: tuple[str, ...]
    """Model names the client module imports."""
    contract_imports: tuple[str, ...]
    """Model names the contract module imports."""
    limits: tuple[LimitIR, ...] = ()
    """The spec's limits, in its order."""
    field_rules: tuple[FieldRuleIR, ...] = ()
    """The limits of every property that has any."""
    tags: tuple[tuple[str, str], ...] = ()
    """The exports' tags: (name, description), in the spec's order."""
