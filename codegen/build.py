"""Turn a checked spec into the IR of :mod:`codegen.ir`."""

from __future__ import annotations

import json
import re
from typing import Any

from .ir import (
    ClientIR,
    EventIR,
    FieldIR,
    MethodIR,
    MethodParamIR,
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
from .seam import ENGINE_METHODS, ERRORS

__all__ = [
    "build_ir",
    "markdown_anchor",
    "object_heading",
    "object_json_schemas",
    "with_known_values",
]

OPENAPI_PREFIX = "#/components/schemas/"
_PY_LABELS = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "object": "dict[str, Any]",
    "null": "None",
}
_DOC_WIDTH = 88
"""The widest one-line signature the reference shows; longer ones get a parameter a line."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RETURNS_DOC = {
    "page": (
        "The first page: ``data`` holds the items; ``has_next`` / ``has_prev``, "
        "``next_page()`` / ``prev_page()`` walk to older / newer pages."
    ),
    "iterator": "An async iterator over every item, page after page, newest first.",
    "subscription": "A Subscription whose ``cancel()`` unsubscribes; idempotent.",
    "stream": "A MessageStream: ``async with ... as messages: async for message in messages``.",
}


def markdown_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a Markdown heading (lowercase, punctuation dropped)."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def object_heading(name: str) -> str:
    """Return the reference's heading of an object's section."""
    return f"The {name} object"


def _literal(value: object) -> str:
    """Return a Python literal of ``value`` as ruff formats it (double-quoted strings)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def with_known_values(description: str, known: list[str] | tuple[str, ...]) -> str:
    """Return ``description`` followed by the known values of a plain-``str`` field."""
    if not known:
        return description
    values = ", ".join(f'"{value}"' for value in known)
    return f"{description} Known values: {values}; others are kept as they are."


def _property_schema(prop: dict[str, Any], prefix: str) -> dict[str, Any]:
    schema: dict[str, Any]
    if "$ref" in prop:
        ref = {"$ref": prefix + prop["$ref"]}
        schema = {"anyOf": [ref, {"type": "null"}]} if prop.get("nullable") else dict(ref)
    else:
        schema = {"type": prop["type"]}
        if "items" in prop:
            item = prop["items"]
            schema["items"] = (
                {"$ref": prefix + item["$ref"]} if "$ref" in item else {"type": item["type"]}
            )
        for key, target in (
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("min_length", "minLength"),
        ):
            if key in prop:
                schema[target] = prop[key]
    schema["description"] = with_known_values(prop["description"], prop.get("known_values", []))
    if "default" in prop:
        schema["default"] = prop["default"]
    return schema


def object_json_schemas(objects: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """Return each object's JSON Schema, references written as ``prefix + Name``."""
    result: dict[str, dict[str, Any]] = {}
    for name, obj in objects.items():
        schema: dict[str, Any] = {
            "title": name,
            "type": "object",
            "description": obj["description"],
            "properties": {
                prop_name: _property_schema(prop, prefix)
                for prop_name, prop in obj["properties"].items()
            },
        }
        if obj.get("required"):
            schema["required"] = list(obj["required"])
        result[name] = schema
    return result


def _type_label(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"{prop['$ref']} | None" if prop.get("nullable") else str(prop["$ref"])
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    labels = []
    for kind in kinds:
        if kind == "array":
            item = prop["items"]
            inner = item["$ref"] if "$ref" in item else _PY_LABELS[item["type"]]
            labels.append(f"list[{inner}]")
        else:
            labels.append(_PY_LABELS[kind])
    return " | ".join(labels)


def _default_label(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return "-"
    default = prop["default"]
    if "$ref" in prop and default == {}:
        return f"{prop['$ref']}()"
    return _literal(default)


def _named_object(prop: dict[str, Any]) -> str | None:
    if "$ref" in prop:
        return str(prop["$ref"])
    item = prop.get("items", {})
    return str(item["$ref"]) if "$ref" in item else None


def _objects(objects: dict[str, Any]) -> tuple[ObjectIR, ...]:
    schemas = object_json_schemas(objects, OPENAPI_PREFIX)
    anchors = {name: markdown_anchor(object_heading(name)) for name in objects}
    result = []
    for name, obj in objects.items():
        fields = tuple(
            FieldIR(
                name=prop_name,
                type_label=_type_label(prop),
                type_anchor=anchors.get(_named_object(prop) or ""),
                required=prop_name in obj.get("required", []),
                default_label=_default_label(prop),
                description=prop["description"],
                known_values=tuple(prop.get("known_values", ())),
                json_schema=schemas[name]["properties"][prop_name],
            )
            for prop_name, prop in obj["properties"].items()
        )
        result.append(
            ObjectIR(
                name=name,
                description=obj["description"],
                fields=fields,
                required=tuple(obj.get("required", ())),
                example=obj["example"],
                example_json=json.dumps(obj["example"], indent=2, ensure_ascii=False),
                json_schema=schemas[name],
                omit_defaults=bool(obj.get("omit_defaults", True)),
                article="an" if name[0] in "AEIOU" else "a",
                anchor=anchors[name],
            )
        )
    return tuple(result)


def _routes(data: dict[str, Any], statuses: dict[int, StatusIR]) -> tuple[RouteIR, ...]:
    shared = data["parameters"]
    routes = []
    for op_id, op in data["operations"].items():
        params = []
        for param in op.get("params", []):
            name, body = (
                (param["$ref"], shared[param["$ref"]])
                if "$ref" in param
                else (param["name"], param)
            )
            params.append(
                ParamIR(
                    name=name,
                    location=body["in"],
                    py_type="int" if body["type"] == "integer" else "str",
                    json_type=body["type"],
                    required=bool(body.get("required", False)),
                    default=body.get("default"),
                    minimum=body.get("minimum"),
                    maximum=body.get("maximum"),
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
            )
        )
    return tuple(routes)


def _method_param(name: str, param: dict[str, Any], item_type: str) -> MethodParamIR:
    kind = param["type"]
    has_default = "default" in param
    default = param.get("default")
    if kind == "string":
        annotation, check = (
            "str",
            f"require_str({name!r}, {name}, min_length={param.get('min_length', 0)})",
        )
    elif kind == "integer":
        annotation = "int"
        low, high = param.get("minimum"), param.get("maximum")
        check = f"require_int({name!r}, {name}, minimum={low!r}, maximum={high!r})"
    elif kind == "object":
        annotation = "Mapping[str, Any] | None" if has_default else "Mapping[str, Any]"
        check = f"require_mapping({name!r}, {name}, optional={has_default})"
    else:
        annotation = f"Callable[[{item_type}], object]"
        check = f"require_callable({name!r}, {name})"
    return MethodParamIR(
        name=name,
        js_name=param.get("js_name"),
        annotation=annotation,
        default=_literal(default) if has_default else None,
        description=param["description"],
        check=f"{name} = {check}",
        doc_type=annotation,
        doc_default=_literal(default) if has_default else "-",
    )


def _doc_signature(py_name: str, is_async: bool, parts: list[str], returns: str) -> str:
    head = f"{'async ' if is_async else ''}def {py_name}("
    one_line = f"{head}{'*, ' if parts else ''}{', '.join(parts)}) -> {returns}"
    if len(one_line) <= _DOC_WIDTH:
        return one_line
    lines = [head, "    *,", *(f"    {part}," for part in parts), f") -> {returns}"]
    return "\n".join(lines)


def _method(py_name: str, method: dict[str, Any], anchors: dict[str, str]) -> MethodIR:
    engine_spec = method["engine"]
    engine = ENGINE_METHODS[engine_spec["method"]]
    item_type: str = engine_spec["type"]
    params = tuple(
        _method_param(name, param, item_type) for name, param in method["params"].items()
    )
    parts = [
        f"{p.name}: {p.annotation}" + (f" = {p.default}" if p.default is not None else "")
        for p in params
    ]
    if engine.timeout:
        parts.append("timeout: float | None = None")
    fixed: dict[str, Any] = engine_spec.get("args", {})
    given = {p.name for p in params}

    def arg(name: str) -> str:
        return name if name in given else repr(fixed[name])

    args: list[str] = []
    if engine.takes_operation:
        args.append(repr(engine_spec["operation"]))
    args.extend(arg(name) for name in engine.positional)
    args.append(f"{engine.type_keyword}={item_type}")
    args.extend(f"{name}={arg(name)}" for name in engine.keywords if name in given or name in fixed)
    if engine.timeout:
        args.append("timeout=timeout")
    call = f"self._engine.{engine_spec['method']}({', '.join(args)})"
    kind = method["returns"]["kind"]
    returns = {
        "object": item_type,
        "page": f"Page[{item_type}]",
        "iterator": f"AsyncIterator[{item_type}]",
        "subscription": "Subscription",
        "stream": f"MessageStream[{item_type}]",
    }[kind]
    named = dict.fromkeys(_IDENTIFIER.findall(returns))
    return MethodIR(
        py_name=py_name,
        js_name=method.get("js_name"),
        js_signature=method.get("js_signature"),
        is_async=engine.is_async,
        params=params,
        signature=", ".join(parts),
        doc_signature=_doc_signature(py_name, engine.is_async, parts, returns),
        returns_refs=tuple((name, anchors[name]) for name in named if name in anchors),
        returns=returns,
        returns_doc=method["returns"].get("description")
        or _RETURNS_DOC.get(kind, f"The {item_type}."),
        summary=method["summary"],
        description=method.get("description", ""),
        raises=tuple((name, ERRORS[name]) for name in method["raises"]),
        call=call,
        example=method["example"],
    )


def build_ir(data: dict[str, Any], error_classes: tuple[str, ...]) -> PackageIR:
    """Return the IR of a spec that :func:`codegen.checks.check_spec` found sound."""
    statuses = {
        int(code): StatusIR(int(code), text) for code, text in data["error_statuses"].items()
    }
    ws = data["websocket"]
    rpc_errors = {int(code): RpcErrorIR(int(code), text) for code, text in ws["rpc_errors"].items()}
    sdk_types = tuple(
        SdkTypeIR(
            name=name,
            description=body["description"],
            members=tuple(body["members"].items()),
            anchor=markdown_anchor(name),
        )
        for name, body in data["sdk_types"].items()
    )
    objects = _objects(data["objects"])
    anchors = {obj.name: obj.anchor for obj in objects}
    anchors.update({sdk_type.name: sdk_type.anchor for sdk_type in sdk_types})
    namespaces = []
    ns_types: set[str] = set()
    for attr, namespace in data["namespaces"].items():
        methods = tuple(
            _method(name, method, anchors) for name, method in namespace["methods"].items()
        )
        ns_types.update(method["engine"]["type"] for method in namespace["methods"].values())
        namespaces.append(
            NamespaceIR(attr, namespace["class_name"], namespace["description"], methods)
        )
    client_methods = tuple(
        _method(name, method, anchors) for name, method in data["client"]["methods"].items()
    )
    client_types = {method["engine"]["type"] for method in data["client"]["methods"].values()}
    routes = _routes(data, statuses)
    rpc_methods = tuple(
        RpcMethodIR(
            name=name,
            direction=method["direction"],
            summary=method["summary"],
            params=method["params"],
            result=method["result"],
            errors=tuple(rpc_errors[code] for code in method.get("errors", [])),
        )
        for name, method in ws["rpc_methods"].items()
    )
    events = tuple(
        EventIR(name, event["summary"], event["payload"]) for name, event in ws["events"].items()
    )
    contract_types = {route.response for route in routes}
    contract_types.update(route.body for route in routes if route.body)
    contract_types.update(m.params for m in rpc_methods)
    contract_types.update(m.result for m in rpc_methods)
    contract_types.update(event.payload for event in events)
    return PackageIR(
        title=data["info"]["title"],
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
        client=ClientIR(data["client"]["class_name"], tuple(namespaces), client_methods),
        sdk_types=sdk_types,
        anchors=anchors,
        error_classes=error_classes,
        namespace_imports=tuple(sorted(ns_types)),
        client_imports=tuple(sorted(client_types)),
        contract_imports=tuple(sorted(contract_types)),
    )
