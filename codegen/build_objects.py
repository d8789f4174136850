"""The objects of the spec as IR: JSON Schemas for the exports, and struct fields for models."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from .ir import FieldIR, ObjectIR

__all__ = [
    "KEYWORDS",
    "OPENAPI_PREFIX",
    "build_objects",
    "constraint_keywords",
    "limit_value",
    "literal",
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
_DOC_WIDTH = 86
"""Docstring lines of models wrap here (indented by four, within the line length)."""


def markdown_anchor(heading: str) -> str:
    """Return the anchor GitHub gives a Markdown heading (lowercase, punctuation dropped)."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def object_heading(name: str) -> str:
    """Return the reference's heading of an object's section."""
    return f"The {name} object"


def literal(value: object) -> str:
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


KEYWORDS = (
    ("minimum", "minimum"),
    ("maximum", "maximum"),
    ("min_length", "minLength"),
    ("max_length", "maxLength"),
    ("max_items", "maxItems"),
    ("pattern", "pattern"),
    ("enum", "enum"),
)
"""Spec keywords of a property, parameter or item and the JSON Schema keyword each becomes."""


NO_NUL: dict[str, str] = {"type": "string", "pattern": "\x00"}
"""``not`` this: no string field holds U+0000 (PostgreSQL keeps none in text, so neither store
takes one; free-form JSON such as ``metadata`` is stored as JSON text and may)."""


def _types(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def limit_value(value: object, limits: dict[str, Any]) -> Any:
    """Return ``value``, or the value of the limit it names (a limit is named by a string)."""
    if isinstance(value, str):
        return limits[value]["value"]
    return value


def constraint_keywords(spec: dict[str, Any], limits: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON Schema keywords of a property, parameter or item, limits resolved."""
    found: dict[str, Any] = {}
    for key, target in KEYWORDS:
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
        if "values" in prop:
            value = prop["values"]
            kept = (
                value if constraints else {k: v for k, v in value.items() if k in ("type", "$ref")}
            )
            schema["additionalProperties"] = _item_schema(kept, prefix, limits)
        if constraints:
            schema.update(constraint_keywords(prop, limits))
            if "string" in _types(prop["type"]):
                schema["not"] = NO_NUL
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
        if constraints and "exactly_one_of" in obj:
            schema["oneOf"] = _exactly_one_of(obj)
        result[name] = schema
    return result


def _exactly_one_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the ``oneOf`` branches of ``exactly_one_of``: one group given, the others not."""
    groups: list[list[str]] = obj["exactly_one_of"]
    props: dict[str, Any] = obj["properties"]

    def kinds(key: str) -> list[str]:
        kind = props[key].get("type", "object")
        return kind if isinstance(kind, list) else [kind]

    branches = []
    for index, group in enumerate(groups):
        key = group[0]
        given: dict[str, Any] = {"type": [k for k in kinds(key) if k != "null"] or kinds(key)}
        if "array" in kinds(key):
            given["minItems"] = 1
        absent: dict[str, Any] = {}
        for other_index, other in enumerate(groups):
            if other_index == index:
                continue
            for other_key in other:
                absent[other_key] = (
                    {"maxItems": 0} if "array" in kinds(other_key) else {"type": "null"}
                )
        branches.append({"required": [key], "properties": {key: given, **absent}})
    return branches


def _item_label(item: dict[str, Any]) -> str:
    return str(item["$ref"]) if "$ref" in item else _PY_LABELS[item["type"]]


def type_label(prop: dict[str, Any]) -> str:
    """Return the Python type of a property: its struct annotation and its docs label."""
    if "$ref" in prop:
        return f"{prop['$ref']} | None" if prop.get("nullable") else str(prop["$ref"])
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    labels = []
    for kind in sorted(kinds, key=lambda kind: kind == "null"):
        if kind == "array":
            labels.append(f"list[{_item_label(prop['items'])}]")
        elif kind == "object" and "values" in prop:
            labels.append(f"dict[str, {_item_label(prop['values'])}]")
        else:
            labels.append(_PY_LABELS[kind])
    return " | ".join(labels)


def _default_label(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return "-"
    default = prop["default"]
    if "$ref" in prop and default == {}:
        return f"{prop['$ref']}()"
    return literal(default)


def _default_expr(prop: dict[str, Any]) -> str | None:
    """Return the struct field's default as Python; containers get a factory."""
    if "default" not in prop:
        return None
    default = prop["default"]
    if "$ref" in prop and default == {}:
        return f"field(default_factory={prop['$ref']})"
    if isinstance(default, list):
        return "field(default_factory=list)"
    if isinstance(default, dict):
        return "field(default_factory=dict)"
    return literal(default)


def _named_object(prop: dict[str, Any]) -> str | None:
    if "$ref" in prop:
        return str(prop["$ref"])
    for key in ("items", "values"):
        item = prop.get(key, {})
        if "$ref" in item:
            return str(item["$ref"])
    return None


def docstring(text: str, indent: int = 4) -> str:
    """Return ``text`` wrapped for a docstring whose lines start at column ``indent``."""
    return ("\n" + " " * indent).join(textwrap.wrap(text, _DOC_WIDTH))


def build_objects(objects: dict[str, Any], limits: dict[str, Any]) -> tuple[ObjectIR, ...]:
    """Return the IR of every object of the spec, in the spec's order."""
    schemas = object_json_schemas(objects, OPENAPI_PREFIX, limits)
    anchors = {name: markdown_anchor(object_heading(name)) for name in objects}
    result = []
    for name, obj in objects.items():
        fields = tuple(
            FieldIR(
                name=prop_name,
                annotation=type_label(prop),
                default_expr=_default_expr(prop),
                type_label=type_label(prop),
                type_anchor=anchors.get(_named_object(prop) or ""),
                required=prop_name in obj.get("required", []),
                default_label=_default_label(prop),
                description=prop["description"],
                docstring=docstring(
                    with_known_values(prop["description"], prop.get("known_values", []))
                ),
                known_values=tuple(prop.get("known_values", ())),
                json_schema=schemas[name]["properties"][prop_name],
            )
            for prop_name, prop in obj["properties"].items()
        )
        result.append(
            ObjectIR(
                name=name,
                description=obj["description"],
                docstring=docstring(obj["description"]),
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
