"""Turn a checked spec into the IR of :mod:`codegen.ir`."""

from __future__ import annotations

import json
import re
from typing import Any

from .binding import operation_params
from .build_limits import build_field_rules, build_limits
from .build_methods import build_method, iter_twin
from .build_objects import (
    OPENAPI_PREFIX,
    build_objects,
    constraint_keywords,
    limit_value,
    markdown_anchor,
    object_heading,
    object_json_schemas,
    with_known_values,
)
from .imports import ImportSet
from .ir import (
    ClientIR,
    EventIR,
    MethodIR,
    NamespaceIR,
    ObjectIR,
    PackageIR,
    ParamIR,
    RouteIR,
    RpcErrorIR,
    RpcMethodIR,
    SdkTypeIR,
    StatusIR,
)
from .runtime_api import ENGINE, engine_path, error_docs, result_types, use_engine

#: The runtime types the clients' typed options name.
CLIENT_OPTION_TYPES = (
    "Timeout",
    "RetryPolicy",
    "ReconnectPolicy",
    "HeartbeatPolicy",
    "TokenProvider",
    "HttpSession",
    "HttpConnector",
)

#: The async flavour of a generated class ``X`` is ``AsyncX`` (``Client`` / ``AsyncClient``),
#: as httpx and openai name theirs: the plain name is the sync one.
ASYNC_PREFIX = "Async"

__all__ = [
    "ASYNC_PREFIX",
    "OPENAPI_PREFIX",
    "build_ir",
    "constraint_keywords",
    "limit_value",
    "markdown_anchor",
    "object_heading",
    "object_json_schemas",
    "with_known_values",
]

_PY_TYPES = {"integer": "int", "string": "str"}


def _routes(data: dict[str, Any], statuses: dict[int, StatusIR]) -> tuple[RouteIR, ...]:
    limits = data.get("limits", {})
    routes = []
    for op_id, op in data["operations"].items():
        params = []
        for name, body in operation_params(data, op):
            params.append(
                ParamIR(
                    name=name,
                    location=body["in"],
                    py_type=_PY_TYPES[body["type"]],
                    json_type=body["type"],
                    required=bool(body.get("required", False)),
                    default=body.get("default"),
                    minimum=limit_value(body.get("minimum"), limits),
                    maximum=limit_value(body.get("maximum"), limits),
                    max_length=limit_value(body.get("max_length"), limits),
                    pattern=limit_value(body.get("pattern"), limits),
                    description=body["description"],
                )
            )
        routes.append(
            RouteIR(
                operation_id=op_id,
                method=op["method"],
                path=op["path"],
                auth=op["auth"],
                summary=op["summary"],
                params=tuple(params),
                body=op.get("body"),
                response=op["response"]["type"],
                status=op["response"]["status"],
                errors=tuple(statuses[code] for code in op["errors"]),
                tags=tuple(op.get("tags", ())),
                py_name=re.sub(r"(?<!^)(?=[A-Z])", "_", op_id).lower(),
            )
        )
    return tuple(routes)


def _models_imports(objects: tuple[ObjectIR, ...]) -> ImportSet:
    uses = ImportSet(())
    uses.use("Model")
    for obj in objects:
        for field in obj.fields:
            if "Any" in field.annotation:
                uses.use("Any")
            if field.default_expr is not None and field.default_expr.startswith("field("):
                uses.use("field")
    return uses


#: Runtime names every package exports: what users configure and watch.
RUNTIME_EXPORTS = (
    "ConnectionState",
    "HeartbeatPolicy",
    "ReconnectPolicy",
    "RetryPolicy",
    "Timeout",
    "TokenProvider",
)


def _public_models(objects: tuple[ObjectIR, ...], returned: list[str]) -> tuple[str, ...]:
    """Return the models a user reads: the types the SDK methods return, and what they hold.

    The rest of the spec's objects (request bodies, page envelopes, JSON-RPC frames, the error
    body) are the wire's: importable from the package's ``models``, not exported.
    """
    by_name = {obj.name: obj for obj in objects}
    todo, seen = list(returned), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        schema = json.dumps(by_name[name].json_schema)
        todo.extend(re.findall(r"#/components/schemas/(\w+)", schema))
    return tuple(obj.name for obj in objects if obj.name in seen)


def _session_roles(
    rpc_methods: tuple[RpcMethodIR, ...], events: tuple[EventIR, ...]
) -> tuple[tuple[str, str], ...]:
    """Return (vocabulary attribute, constant) of each method and event with a session role."""
    roles = [(m.role, m.const) for m in rpc_methods if m.role]
    roles += [(f"{e.role}_event", e.const) for e in events if e.role == "authorization_state"]
    return tuple(roles)


def wire_constant(name: str) -> str:
    """Return the constant holding a method or event name (``a.b_c`` -> ``A_B_C``)."""
    return name.replace(".", "_").upper()


def _with_iter_twins(methods: list[MethodIR], owner: str, uses: ImportSet) -> tuple[MethodIR, ...]:
    """Return ``methods`` with the ``iter_*`` twin of each paged one right after it."""
    result: list[MethodIR] = []
    for method in methods:
        result.append(method)
        if method.kind == "page":
            result.append(iter_twin(method, owner, uses))
    return tuple(result)


def build_ir(data: dict[str, Any]) -> PackageIR:
    """Return the IR of a spec that :func:`codegen.checks.check_spec` found sound."""
    statuses = {
        int(code): StatusIR(int(code), text) for code, text in data["error_statuses"].items()
    }
    ws = data["websocket"]
    rpc_errors = {
        int(code): RpcErrorIR(
            int(code), error["description"], error["name"].upper(), error.get("role")
        )
        for code, error in ws["rpc_errors"].items()
    }
    sdk_types = tuple(
        SdkTypeIR(
            name=name,
            description=body["description"],
            members=tuple(body["members"].items()),
            anchor=markdown_anchor(name),
        )
        for name, body in data["sdk_types"].items()
    )
    limits = data.get("limits", {})
    objects = build_objects(data["objects"], limits)
    model_names = [obj.name for obj in objects]
    anchors = {obj.name: obj.anchor for obj in objects}
    anchors.update({sdk_type.name: sdk_type.anchor for sdk_type in sdk_types})
    client_name = data["client"]["class_name"]
    async_client_name = ASYNC_PREFIX + client_name
    use_engine(data["client"].get("engine", ENGINE))
    engine_module, _, engine_class = engine_path().partition(":")
    package = data["info"].get("package", "fabric_chat")
    own_engine: dict[str, str] = {}
    if engine_module.startswith(package + "."):  # the package's own lib: a relative import
        own_engine[engine_class] = engine_module.removeprefix(package)
    namespace_uses = ImportSet(model_names, own_engine)
    namespace_uses.use(engine_class, "EventLoopThread")
    namespaces = []
    for attr, namespace in data["namespaces"].items():
        methods = _with_iter_twins(
            [
                build_method(data, f"client.{attr}.", name, method, anchors, namespace_uses)
                for name, method in namespace["methods"].items()
            ],
            f"client.{attr}.",
            namespace_uses,
        )
        namespaces.append(
            NamespaceIR(
                attr,
                namespace["class_name"],
                ASYNC_PREFIX + namespace["class_name"],
                namespace["description"],
                methods,
            )
        )
    local = {ns.class_name: "._namespaces" for ns in namespaces}
    local.update({ns.async_class_name: "._namespaces" for ns in namespaces})
    client_uses = ImportSet(model_names, {**local, **own_engine, "CONTRACT": ".contract"})
    client_uses.use("Self", "BaseClient", "SyncBaseClient", "EventLoopThread")
    client_uses.use("CONTRACT", "Engine", engine_class, *local)
    client_uses.use(*CLIENT_OPTION_TYPES)
    client_methods = _with_iter_twins(
        [
            build_method(data, "client.", name, method, anchors, client_uses)
            for name, method in data["client"]["methods"].items()
        ],
        "client.",
        client_uses,
    )
    routes = _routes(data, statuses)
    rpc_methods = tuple(
        RpcMethodIR(
            name=name,
            direction=method["direction"],
            summary=method["summary"],
            params=method["params"],
            result=method["result"],
            errors=tuple(rpc_errors[code] for code in method.get("errors", [])),
            tags=tuple(method.get("tags", ())),
            const=wire_constant(name),
            role=method.get("role"),
        )
        for name, method in ws["rpc_methods"].items()
    )
    events = tuple(
        EventIR(
            name,
            event["summary"],
            event["payload"],
            tuple(event.get("tags", ())),
            const=wire_constant(name),
            role=event.get("role"),
        )
        for name, event in ws["events"].items()
    )
    wire_names = [m.const for m in rpc_methods] + [e.const for e in events]
    wire_names += [e.const for e in rpc_errors.values()]
    contract_uses = ImportSet(
        model_names, {name: "._protocol" for name in ["VOCABULARY", *wire_names]}
    )
    contract_uses.use("Contract", "Route", "dataclass", "VOCABULARY", *wire_names)
    contract_uses.use(*(route.response for route in routes))
    contract_uses.use(*(route.body for route in routes if route.body))
    if any(route.params for route in routes):
        contract_uses.use("Param")
    if rpc_methods:
        contract_uses.use("RpcMethod", *(m.params for m in rpc_methods))
        contract_uses.use(*(m.result for m in rpc_methods))
    if events:
        contract_uses.use("EventType", *(event.payload for event in events))
    project_uses = ImportSet(model_names, {"CONTRACT": ".contract"})
    project_uses.use("BaseProjectClient", "CONTRACT", "HttpConnector")
    for route in routes:
        if route.auth == "basic":
            project_uses.use(route.response, *([route.body] if route.body else []))
    result_names = tuple(sorted([*result_types(), *(f"Sync{name}" for name in result_types())]))
    errors = tuple(error_docs())
    clients = {client_name: ".client", async_client_name: ".client"}
    package_uses = ImportSet(model_names, {**local, **clients})
    package_uses.future = False
    returned = [m.item_type for ns in namespaces for m in ns.methods]
    public = _public_models(objects, returned + [m.item_type for m in client_methods])
    package_uses.reexport(*errors, *result_names, *RUNTIME_EXPORTS, *local, *clients, *public)
    return PackageIR(
        title=data["info"]["title"],
        package=data["info"].get("package", "fabric_chat"),
        version=data["info"]["version"],
        description=data["info"]["description"],
        server=data["info"]["server"],
        ws_path=ws["path"],
        objects=objects,
        routes=routes,
        statuses=tuple(statuses[code] for code in sorted(statuses)),
        rpc_methods=rpc_methods,
        rpc_errors=tuple(rpc_errors[code] for code in sorted(rpc_errors)),
        events=events,
        client=ClientIR(client_name, async_client_name, tuple(namespaces), client_methods),
        sdk_types=sdk_types,
        anchors=anchors,
        error_classes=errors,
        result_types=result_names,
        imports={
            "models": _models_imports(objects).imports(),
            "_namespaces": namespace_uses.imports(),
            "client": client_uses.imports(),
            "contract": contract_uses.imports(),
            "project": project_uses.imports(),
            "__init__": package_uses.imports(),
        },
        limits=build_limits(data, limits),
        field_rules=build_field_rules(data["objects"], limits),
        tags=tuple(data.get("tags", {}).items()),
        public_models=public,
        runtime_exports=RUNTIME_EXPORTS,
        engine_class=engine_class,
        session_roles=_session_roles(rpc_methods, events),
        message_events=tuple(e.const for e in events if e.role == "message"),
        token_refused=tuple(e.const for e in rpc_errors.values() if e.role == "token_refused"),
        resume_refused=tuple(e.const for e in rpc_errors.values() if e.role == "resume_refused"),
        error_item_fields=tuple(data["objects"].get("ErrorItem", {}).get("properties", {})),
    )
