"""The typed intermediate representation the templates see: never raw YAML.

Names, Python annotations, signatures, imports and order are computed in Python by
:mod:`codegen.build`; templates only place them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClientIR",
    "ImportIR",
    "Imports",
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
    "SyncMethodIR",
]


@dataclass(frozen=True, slots=True)
class ImportIR:
    """One ``from MODULE import NAME, ...`` line (``NAME as NAME`` when it re-exports)."""

    module: str
    names: tuple[str, ...]
    reexport: bool = False


Imports = tuple[tuple[ImportIR, ...], ...]
"""A module's imports, in ruff's (isort's) sections and order: each group a block."""


@dataclass(frozen=True, slots=True)
class FieldIR:
    """One property of an object."""

    name: str
    annotation: str
    """The struct field's Python annotation, e.g. ``str | None`` or ``list[Address]``."""
    default_expr: str | None
    """The struct field's default as Python (``None``, ``field(default_factory=list)``...), or
    None when the field is required."""
    type_label: str
    """The type as the docs show it, e.g. ``str | None`` or ``list[Address]``."""
    type_anchor: str | None
    """The reference's anchor of the object the type names, if it names one."""
    required: bool
    default_label: str
    """The default as the docs show it (``-`` when required)."""
    description: str
    docstring: str
    """The field's docstring (known values included), wrapped for the struct."""
    known_values: tuple[str, ...]
    json_schema: dict[str, Any]
    """The property's JSON Schema with references as ``#/components/schemas/Name``."""


@dataclass(frozen=True, slots=True)
class ObjectIR:
    """One object of the spec: a generated msgspec struct and a schema of the exports."""

    name: str
    description: str
    docstring: str
    """The class's docstring, wrapped for the struct."""
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
    py_name: str = ""
    """The operation id in snake case (``createSubscriberToken`` -> ``create_subscriber_token``)."""


@dataclass(frozen=True, slots=True)
class RpcErrorIR:
    """One JSON-RPC error code of the WebSocket."""

    code: int
    description: str
    const: str = ""
    """The code's constant in the generated protocol module, e.g. ``TOKEN_ERROR``."""
    role: str | None = None
    """What the client session does on this answer to a connect (``token_refused``, ...)."""


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
    const: str = ""
    """The method name's constant in the generated protocol module, e.g. ``SIGNALWIRE_PING``."""
    role: str | None = None
    """What the client session uses the method for (``connect``, ``ping``, ...)."""


@dataclass(frozen=True, slots=True)
class EventIR:
    """One ``signalwire.event`` type."""

    name: str
    summary: str
    payload: str
    tags: tuple[str, ...] = ()
    const: str = ""
    """The event name's constant in the generated protocol module."""
    role: str | None = None
    """What the client session does with the event (``message``, ``authorization_state``)."""


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
    """The validation expression run before the engine call, or None."""
    nullable: bool
    """Whether None is accepted (and skips the check)."""
    doc_type: str
    doc_default: str


@dataclass(frozen=True, slots=True)
class MethodIR:
    """One generated SDK method and the engine call it makes.

    Flavour-free: an async and a sync template can both render it (``awaits`` says whether the
    engine call is a coroutine).
    """

    py_name: str
    js_name: str | None
    js_signature: str | None
    """The seed page's JavaScript signature, where it gives one."""
    is_async: bool
    kind: str
    """``object``, ``page``, ``iterator``, ``subscription`` or ``stream``."""
    item_type: str
    """The model the method returns, or pages, iterates or streams."""
    operation: str | None
    """The operation it calls when it is bound by name to one; None for chat semantics."""
    takes_timeout: bool
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
    engine_method: str
    """The engine method called, e.g. ``join`` or ``request``."""
    engine_call: str
    """The engine call, e.g. ``self._engine.join(address_id, result_type=...)``."""
    call: str
    """What the (async) method returns: the engine call, awaited when it is a coroutine, or
    ``iter_pages(lambda: ...)`` over the paged method's call for an ``iter_*`` twin."""
    twin_of: str | None
    """For an ``iter_*`` twin, the paged method it iterates (``get_messages``); else None."""
    call_args: tuple[str, ...]
    """The engine call's arguments, e.g. ``address_id``, ``result_type=Address``."""
    example: str
    sync: SyncMethodIR
    """How the sync client's twin of this method differs: return, docs, and its one call."""


@dataclass(frozen=True, slots=True)
class SyncMethodIR:
    """The sync flavour of a :class:`MethodIR`: same name, arguments, checks and engine call.

    The engine call runs on the sync client's own loop thread; what comes back is wrapped in
    the runtime's sync face of it (``SyncPage``, ``SyncSubscription``, ``SyncMessageStream``).
    """

    returns: str
    returns_doc: str
    call: str
    """The expression the method returns, e.g. ``self._loop.run(self._engine.join(...))``."""
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
    """The sync namespace's class (``ChatNamespace``)."""
    async_class_name: str
    """The async namespace's class (``AsyncChatNamespace``), as openai and httpx name theirs."""
    description: str
    methods: tuple[MethodIR, ...]


@dataclass(frozen=True, slots=True)
class ClientIR:
    """The generated clients: ``Client`` (sync) and ``AsyncClient``."""

    class_name: str
    """The sync client's class (``Client``)."""
    async_class_name: str
    """The async client's class (``AsyncClient``)."""
    namespaces: tuple[NamespaceIR, ...]
    methods: tuple[MethodIR, ...]


@dataclass(frozen=True, slots=True)
class PackageIR:
    """Everything the templates render."""

    title: str
    package: str
    """The Python package generated (``fabric_chat``)."""
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
    result_types: tuple[str, ...]
    """The runtime result types the package re-exports (``Page``, ...)."""
    imports: dict[str, Imports]
    """Each generated module's imports, computed from what it uses, by module name."""
    limits: tuple[LimitIR, ...] = ()
    """The spec's limits, in its order."""
    field_rules: tuple[FieldRuleIR, ...] = ()
    """The limits of every property that has any."""
    tags: tuple[tuple[str, str], ...] = ()
    public_models: tuple[str, ...] = ()
    """The models a user reads: what the SDK methods return and what those hold (exported)."""
    runtime_exports: tuple[str, ...] = ()
    """Runtime names the package exports beside its own: the connection state, the policies."""
    engine_class: str = "Engine"
    """The engine class the namespaces call (the runtime's, or the spec's ``client.engine``)."""
    session_roles: tuple[tuple[str, str], ...] = ()
    """(vocabulary attribute, constant) of each method and event the client session uses."""
    message_events: tuple[str, ...] = ()
    """The constants of the events that carry messages to subscriptions."""
    token_refused: tuple[str, ...] = ()
    """The constants of the connect errors that refuse the token."""
    resume_refused: tuple[str, ...] = ()
    """The constants of the connect errors that refuse a resume."""
    error_item_fields: tuple[str, ...] = ()
    """The properties of the spec's ``ErrorItem`` (what the error body reader can read)."""

    @property
    def event_method(self) -> str:
        """The constant of the JSON-RPC method that carries events."""
        return dict(self.session_roles)["event"]

    """The exports' tags: (name, description), in the spec's order."""
