"""Turn a checked spec into the IR of :mod:`codegen.ir`."""

from __future__ import annotations

import json
import re
from typing import Any

from .ir import (
    ClientIR,
    EventIR,
    FieldIR,
    FieldRuleIR,
    LimitIR,
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
    "constraint_keywords",
    "limit_value",
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


_KEYWORDS = (
    ("minimum", "minimum"),
    ("maximum", "maximum"),
    ("min_length", "minLength"),
    ("max_length", "maxLength"),
    ("max_items", "maxItems"),
    ("pattern", "pattern"),
    ("enum", "enum"),
)
"""Spec keywords of a property, parameter or item and the JSON Schema keyword each becomes."""


def limit_value(value: object, limits: dict[str, Any]) -> Any:
    """Return ``value``, or the value of the limit it names (a limit is named by a string)."""
    if isinstance(value, str):
        return limits[value]["value"]
    return value


def constraint_keywords(spec: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON Schema keywords of a property, parameter or item, limits resolved."""
    found: dict[str, Any] = {}
    for key, target in _KEYWORDS:
        if key in spec:
            found[target] = spec[key] if key == "enum" else limit_value(spec[key], limits)
    return found


def _item_schema(item: dict[str, Any], prefix: str, limits: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in item:
        return {"$ref": prefix + item["$ref"]}
    return {"type": item["type"], **constraint_keywords(item, limits)}


def _property_schema(
    prop: dict[str, Any], prefix: str, limits: dict[str, Any], *, constraints: bool
) -> dict[str, Any]:
    schema: dict[str, Any]
    if "$ref" in prop:
        ref = {"$ref": prefix + prop["$ref"]}
        schema = {"anyOf": [ref, {"type": "null"}]} if prop.get("nullable") else dict(ref)
    else:
        schema = {"type": prop["type"]}
        if "items" in prop:
            item = prop["items"]
            kept = item if constraints else {k: v for k, v in item.items() if k in ("type", "$ref")}
            schema["items"] = _item_schema(kept, prefix, limits)
        if constraints:
            schema.update(constraint_keywords(prop, limits))
            if "bounded_by" in prop:
                schema["x-limits"] = {name: limits[name]["value"] for name in prop["bounded_by"]}
    schema["description"] = with_known_values(prop["description"], prop.get("known_values", []))
    if "default" in prop:
        schema["default"] = prop["default"]
    return schema


def object_json_schemas(
    objects: dict[str, Any], prefix: str, limits: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Return each object's JSON Schema, references written as ``prefix + Name``.

    Without ``limits`` (the spec's ``limits``) the schemas leave out every constraint
    (``maxLength``, ``pattern``, ``enum``, ...): the models stay forgiving on input; the exports
    and the server are strict.
    """
    constraints = limits is not None
    limits = limits or {}
    result: dict[str, dict[str, Any]] = {}
    for name, obj in objects.items():
        schema: dict[str, Any] = {
            "title": name,
            "type": "object",
            "description": obj["description"],
            "properties": {
                prop_name: _property_schema(prop, prefix, limits, constraints=constraints)
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


def _objects(objects: dict[str, Any], limits: dict[str, Any]) -> tuple[ObjectIR, ...]:
    schemas = object_json_schemas(objects, OPENAPI_PREFIX, limits)
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
    limits = data.get("limits", {})
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
            )
        )
    return tuple(routes)


def _limits(data: dict[str, Any], limits: dict[str, Any]) -> tuple[LimitIR, ...]:
    """Return every limit with the places that name it, in the spec's order."""
    used: dict[str, list[str]] = {name: [] for name in limits}

    def note(spec: dict[str, Any], where: str) -> None:
        names = [spec[key] for key, _ in _KEYWORDS if isinstance(spec.get(key), str)]
        names += list(spec.get("bounded_by", ()))
        for name in names:
            if where not in used[name]:
                used[name].append(where)

    for obj_name, obj in data["objects"].items():
        for prop_name, prop in obj["properties"].items():
            note(prop, f"{obj_name}.{prop_name}")
            if isinstance(prop.get("items"), dict):
                note(prop["items"], f"{obj_name}.{prop_name}[]")
    shared = data["parameters"]
    for op_id, op in data["operations"].items():
        for param in op.get("params", []):
            name, body = (
                (param["$ref"], shared[param["$ref"]])
                if "$ref" in param
                else (param["name"], param)
            )
            note(body, f"{op_id} {name}")
    return tuple(
        LimitIR(
            name=name,
            value=body["value"],
            py_type="str" if isinstance(body["value"], str) else "int",
            unit=body["unit"],
            description=body["description"],
            used_by=tuple(used[name]),
        )
        for name, body in limits.items()
    )


def _field_rules(objects: dict[str, Any], limits: dict[str, Any]) -> tuple[FieldRuleIR, ...]:
    """Return the limits of every property that has any, for the server to enforce."""
    rules = []
    for obj_name, obj in objects.items():
        for prop_name, prop in obj["properties"].items():
            keywords = constraint_keywords(prop, limits)
            item = prop.get("items")
            item_keywords = constraint_keywords(item, limits) if isinstance(item, dict) else {}
            bounded = tuple(prop.get("bounded_by", ()))
            if not (keywords or item_keywords or bounded):
                continue
            arguments = {
                "max_length": keywords.get("maxLength"),
                "min_length": keywords.get("minLength"),
                "pattern": keywords.get("pattern"),
                "minimum": keywords.get("minimum"),
                "maximum": keywords.get("maximum"),
                "max_items": keywords.get("maxItems"),
                "enum": tuple(keywords["enum"]) if "enum" in keywords else None,
                "item_max_length": item_keywords.get("maxLength"),
                "item_pattern": item_keywords.get("pattern"),
                "bounded_by": bounded or None,
            }
            rules.append(
                FieldRuleIR(
                    object=obj_name,
                    field=prop_name,
                    arguments=", ".join(
                        f"{key}={_literal(value)}"
                        for key, value in arguments.items()
                        if value is not None
                    ),
                )
            )
    return tuple(rules)


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
    limits = data.get("limits", {})
    objects = _objects(data["objects"], limits)
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
            tags=tuple(method.get("tags", ())),
        )
        for name, method in ws["rpc_methods"].items()
    )
    events = tuple(
        EventIR(name, event["summary"], event["payload"], tuple(event.get("tags", ())))
        for name, event in ws["events"].items()
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
        limits=_limits(data, limits),
        field_rules=_field_rules(data["objects"], limits),
        tags=tuple(data.get("tags", {}).items()),
    )
