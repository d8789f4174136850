"""Check the spec: its own JSON Schema first, then what a schema cannot say.

Every finding is a :class:`~codegen.loader.SpecError` with the line it is about.
"""

from __future__ import annotations

import importlib
import json
import keyword
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from .binding import operation_returns
from .build_methods import iter_twin_name
from .loader import Located, Location, SpecError
from .method_checks import MethodChecks, matches
from .runtime_api import ENGINE, engine_methods, error_docs, result_types, use_engine

__all__ = ["check_spec", "spec_schema"]

_SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_RUNTIME_NAMES = frozenset({"Engine", "BaseClient", "CONTRACT"})
_MODELS_MODULE_NAMES = frozenset(
    {"Annotated", "Any", "Field", "Literal", "Meta", "Model", "Optional", "Raw", "Struct", "Union"}
    | {"UNSET", "UnsetType", "convert", "field"}
)
"""Names that models.py imports or that datamodel-code-generator renames as a class name."""
_SHADOWING_FIELDS = frozenset({"field"})
"""Field names that would shadow, in a struct's body, a name the later fields' defaults use
(datamodel-code-generator would also rename it, to ``field_`` with an alias)."""
_PROSE_KEYS = frozenset({"description", "summary"})
"""Keys whose text becomes a docstring of the generated code."""
_EXPORT_OBJECTS = ("ErrorBody", "EventParams", "RpcError")
"""Objects the OpenAPI and AsyncAPI templates name directly."""


def spec_schema() -> dict[str, Any]:
    """Return the JSON Schema every spec must satisfy."""
    schema: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _schema_errors(located: Located) -> list[SpecError]:
    validator = jsonschema.Draft202012Validator(spec_schema())
    found: list[SpecError] = []
    for error in validator.iter_errors(located.data):
        path: Location = tuple(error.absolute_path)
        where = "/".join(str(part) for part in path) or "(top)"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = set(error.schema.get("properties", {}))
            for key in sorted(set(error.instance) - allowed):
                found.append(
                    SpecError(located.lines.line((*path, key)), f"{where}: unknown key {key!r}")
                )
            continue
        found.append(SpecError(located.lines.line(path), f"{where}: {error.message}"))
    return found


def _property_types(prop: dict[str, Any]) -> list[str]:
    if "$ref" in prop:
        return ["object", "null"] if prop.get("nullable") else ["object"]
    kind = prop["type"]
    return list(kind) if isinstance(kind, list) else [kind]


class _Checker(MethodChecks):
    def __init__(self, located: Located) -> None:
        self.data = located.data
        self.lines = located.lines
        self.errors: list[SpecError] = []

    def fail(self, path: Location, message: str) -> None:
        self.errors.append(SpecError(self.lines.line(path), message))

    def ref(self, path: Location, name: object, kind: str = "type") -> None:
        if name not in self.data["objects"]:
            self.fail(path, f"unknown {kind} reference {name!r}")

    def limit_refs(self) -> None:
        """Every limit a property, item or parameter names exists and has the right type."""
        limits: dict[str, Any] = self.data.get("limits", {})

        def check(path: Location, spec: dict[str, Any]) -> None:
            for key in ("minimum", "maximum", "max_length", "max_items", "pattern"):
                value = spec.get(key)
                if not isinstance(value, str):
                    continue
                limit = limits.get(value)
                want = str if key == "pattern" else int
                if limit is None:
                    self.fail((*path, key), f"{key} names unknown limit {value!r}")
                elif not isinstance(limit["value"], want) or isinstance(limit["value"], bool):
                    self.fail((*path, key), f"{key} needs a limit of type {want.__name__}")
            for index, name in enumerate(spec.get("bounded_by", ())):
                if name not in limits:
                    self.fail(
                        (*path, "bounded_by", index), f"bounded_by names unknown limit {name!r}"
                    )

        for name, limit in limits.items():
            if limit["unit"] == "pattern":
                try:
                    re.compile(str(limit["value"]))
                except re.error as exc:
                    self.fail(("limits", name, "value"), f"limit {name!r} is not a regex: {exc}")
        for obj_name, obj in self.data["objects"].items():
            for prop_name, prop in obj["properties"].items():
                path: Location = ("objects", obj_name, "properties", prop_name)
                check(path, prop)
                if isinstance(prop.get("items"), dict):
                    check((*path, "items"), prop["items"])
        for name, param in self.data["parameters"].items():
            check(("parameters", name), param)
        for op_id, op in self.data["operations"].items():
            for index, param in enumerate(op.get("params", [])):
                check(("operations", op_id, "params", index), param)

    def prose(self, node: object, path: Location = ()) -> None:
        """No description or summary holds a backslash or a triple quote.

        Both become Python docstrings, where a backslash is an escape (``\\s`` is invalid) and
        a triple quote ends the string; say it in words instead.
        """
        if isinstance(node, dict):
            for key, value in node.items():
                where = (*path, key)
                if key in _PROSE_KEYS and isinstance(value, str):
                    if "\\" in value or '"""' in value:
                        self.fail(
                            where,
                            f"{key} holds a backslash or a triple quote, which would break the"
                            " generated docstrings; say it in words",
                        )
                else:
                    self.prose(value, where)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.prose(value, (*path, index))

    def run(self) -> list[SpecError]:
        self.prose(self.data)
        self.limit_refs()
        if self.errors:
            return self.errors
        self.objects()
        self.operations()
        self.websocket()
        seen_js: dict[tuple[str, str], Location] = {}
        for ns_name, namespace in self.data["namespaces"].items():
            for name, method in namespace["methods"].items():
                path: Location = ("namespaces", ns_name, "methods", name)
                self.method(path, method)
                js = method.get("js_name")
                signature = method.get("js_signature")
                if signature is not None and not signature.startswith(f"{js}("):
                    self.fail(
                        (*path, "js_signature"),
                        f"js_signature must start with the js_name: {js}(...)"
                        if js
                        else "js_signature needs a js_name",
                    )
                if js is not None:
                    if (ns_name, js) in seen_js:
                        self.fail((*path, "js_name"), f"duplicate js_name {js!r} in {ns_name}")
                    seen_js[(ns_name, js)] = path
        for name, method in self.data["client"]["methods"].items():
            self.method(("client", "methods", name), method)
        for ns_name, namespace in self.data["namespaces"].items():
            self.iter_twins(("namespaces", ns_name, "methods"), namespace["methods"])
        self.iter_twins(("client", "methods"), self.data["client"]["methods"])
        self.sdk_types()
        return self.errors

    def sdk_types(self) -> None:
        for name, body in self.data["sdk_types"].items():
            result = result_types().get(name)
            if result is None:
                self.fail(("sdk_types", name), f"the runtime's engine returns no {name!r}")
                continue
            runtime = getattr(importlib.import_module(result.module), name)
            known = {*dir(runtime), *getattr(runtime, "__annotations__", {})}
            for member in body["members"]:
                attribute = member.removesuffix("()")
                path: Location = ("sdk_types", name, "members", member)
                if attribute not in known:
                    self.fail(path, f"{name} has no member {attribute!r} in the runtime")
                elif member.endswith("()") != callable(getattr(runtime, attribute, None)):
                    kind = "a method" if callable(getattr(runtime, attribute, None)) else "not one"
                    self.fail(path, f"{name}.{attribute} is {kind}: write it with or without ()")

    def iter_twins(self, base: Location, methods: dict[str, Any]) -> None:
        """A paged method gets a generated ``iter_*`` twin: its name must be free."""
        for name, method in methods.items():
            if self._kind(method) != "page":
                continue
            twin = iter_twin_name(name)
            if twin in methods:
                self.fail(
                    (*base, twin),
                    f"{twin!r} is generated as the iter_ twin of paged method {name!r}: "
                    "remove it or rename it",
                )

    def _kind(self, method: dict[str, Any]) -> str | None:
        if "operation" in method:
            op = self.data["operations"].get(method["operation"])
            return None if op is None else operation_returns(self.data, op)[0]
        engine = engine_methods().get(method.get("engine", {}).get("method", ""))
        return None if engine is None else engine.kind

    def objects(self) -> None:
        objects: dict[str, Any] = self.data["objects"]
        taken = {
            self.data["client"]["class_name"]: ("client", "class_name"),
            **{
                namespace["class_name"]: ("namespaces", attr, "class_name")
                for attr, namespace in self.data["namespaces"].items()
            },
            **{name: () for name in (*error_docs(), *result_types(), *_RUNTIME_NAMES)},
        }
        for needed in _EXPORT_OBJECTS:
            if needed not in objects:
                self.fail(("objects",), f"the exports need an object named {needed!r}")
        for name, obj in objects.items():
            base: Location = ("objects", name)
            if name in taken:
                self.fail(base, f"object name {name!r} is already a public name of fabric_chat")
            elif name in _MODELS_MODULE_NAMES:
                self.fail(base, f"object name {name!r} clashes with a name of the models module")
            props: dict[str, Any] = obj["properties"]
            for req in obj.get("required", []):
                if req not in props:
                    self.fail(
                        (*base, "required"), f"{name}: required names unknown property {req!r}"
                    )
            for prop_name, prop in props.items():
                self.property((*base, "properties", prop_name), name, prop_name, prop, obj)
            for index, group in enumerate(obj.get("exactly_one_of", ())):
                for key in group:
                    if key not in props:
                        self.fail(
                            (*base, "exactly_one_of", index),
                            f"{name}: exactly_one_of names unknown property {key!r}",
                        )
            for key in obj["example"]:
                if key not in props:
                    self.fail(
                        (*base, "example", key), f"{name}: example has unknown property {key!r}"
                    )

    def property(
        self, path: Location, obj_name: str, name: str, prop: dict[str, Any], obj: dict[str, Any]
    ) -> None:
        if keyword.iskeyword(name):
            self.fail(path, f"{obj_name}.{name}: a Python keyword cannot be a field name")
        elif name.startswith("_") or name in _SHADOWING_FIELDS:
            self.fail(
                path, f"{obj_name}.{name}: the struct cannot have this field; choose another name"
            )
        if "$ref" in prop:
            self.ref((*path, "$ref"), prop["$ref"])
        elif prop.get("nullable"):
            self.fail(
                (*path, "nullable"),
                f"{obj_name}.{name}: nullable needs $ref; use type: [..., 'null']",
            )
        items = prop.get("items")
        types = _property_types(prop)
        if items is not None:
            if "array" not in types:
                self.fail((*path, "items"), f"{obj_name}.{name}: items given for a non-array type")
            if "$ref" in items:
                self.ref((*path, "items", "$ref"), items["$ref"])
        elif "array" in types:
            self.fail(path, f"{obj_name}.{name}: array type needs items")
        required = name in obj.get("required", [])
        if "default" not in prop:
            if not required:
                self.fail(path, f"{obj_name}.{name}: optional property has no default")
            return
        if required:
            self.fail((*path, "default"), f"{obj_name}.{name}: required property has a default")
        default = prop["default"]
        if "$ref" in prop:
            if not (default == {} or (default is None and prop.get("nullable"))):
                self.fail(
                    (*path, "default"), f"{obj_name}.{name}: default of a $ref must be {{}} or null"
                )
        elif not matches(default, types):
            self.fail(
                (*path, "default"),
                f"{obj_name}.{name}: default {default!r} does not match type {'|'.join(types)}",
            )
        elif isinstance(default, (dict, list)) and default:
            self.fail((*path, "default"), f"{obj_name}.{name}: a container default must be empty")

    def operations(self) -> None:
        statuses = {int(code) for code in self.data["error_statuses"]}
        shared: dict[str, Any] = self.data["parameters"]
        seen_routes: dict[tuple[str, str], str] = {}
        for name, param in shared.items():
            self.param_default(("parameters", name), name, param)
        for op_id, op in self.data["operations"].items():
            base: Location = ("operations", op_id)
            key = (op["method"], op["path"])
            if key in seen_routes:
                self.fail(
                    (*base, "path"),
                    f"{op_id}: duplicate route {key[0]} {key[1]} (also {seen_routes[key]})",
                )
            seen_routes[key] = op_id
            if "body" in op:
                self.ref((*base, "body"), op["body"])
            self.ref((*base, "response", "type"), op["response"]["type"])
            for index, code in enumerate(op["errors"]):
                if code not in statuses:
                    self.fail(
                        (*base, "errors", index),
                        f"{op_id}: error status {code} is not in error_statuses",
                    )
            placeholders = _PLACEHOLDER.findall(op["path"])
            names: set[str] = set()
            for index, param in enumerate(op.get("params", [])):
                ppath: Location = (*base, "params", index)
                if "$ref" in param:
                    if param["$ref"] not in shared:
                        self.fail(
                            (*ppath, "$ref"),
                            f"{op_id}: unknown parameter reference {param['$ref']!r}",
                        )
                        continue
                    pname, body = param["$ref"], shared[param["$ref"]]
                else:
                    pname, body = param["name"], param
                    self.param_default(ppath, pname, body)
                if pname in names:
                    self.fail(ppath, f"{op_id}: duplicate parameter {pname!r}")
                names.add(pname)
                if body["in"] == "path":
                    if pname not in placeholders:
                        self.fail(
                            ppath, f"{op_id}: path parameter {pname!r} does not appear in the path"
                        )
                    if not body.get("required"):
                        self.fail(ppath, f"{op_id}: path parameter {pname!r} must be required")
            for placeholder in placeholders:
                if placeholder not in names:
                    self.fail(
                        (*base, "path"),
                        f"{op_id}: path placeholder {{{placeholder}}} is not a declared parameter",
                    )

    def param_default(self, path: Location, name: str, param: dict[str, Any]) -> None:
        if "default" not in param:
            return
        default = param["default"]
        if not matches(default, [param["type"]]):
            self.fail(
                (*path, "default"),
                f"{name}: default {default!r} does not match type {param['type']}",
            )
            return
        self.bounds(path, name, param, default)

    def bounds(self, path: Location, name: str, spec: dict[str, Any], value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            return
        limits: dict[str, Any] = self.data.get("limits", {})
        low, high = (
            limits[bound]["value"] if isinstance(bound, str) else bound
            for bound in (spec.get("minimum"), spec.get("maximum"))
        )
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail((*path, "default"), f"{name}: default {value} is outside {low}..{high}")

    def websocket(self) -> None:
        ws = self.data["websocket"]
        codes = {int(code) for code in ws["rpc_errors"]}
        for name, method in ws["rpc_methods"].items():
            base: Location = ("websocket", "rpc_methods", name)
            self.ref((*base, "params"), method["params"])
            self.ref((*base, "result"), method["result"])
            for index, code in enumerate(method.get("errors", [])):
                if code not in codes:
                    self.fail(
                        (*base, "errors", index), f"{name}: error code {code} is not in rpc_errors"
                    )
        for name, event in ws["events"].items():
            self.ref(("websocket", "events", name, "payload"), event["payload"], "payload type")
        seen: dict[str, str] = {}
        for section in ("rpc_methods", "events"):
            for name, item in ws[section].items():
                role = item.get("role")
                if role is not None and role in seen:
                    self.fail(
                        ("websocket", section, name, "role"),
                        f"{name}: role {role} is already {seen[role]}'s",
                    )
                elif role is not None:
                    seen[role] = name
        for role in ("connect", "event"):
            if role not in seen:
                self.fail(("websocket", "rpc_methods"), f"no JSON-RPC method has the role {role}")
        names: dict[str, str] = {}
        for code, error in ws["rpc_errors"].items():
            if error["name"] in names:
                self.fail(
                    ("websocket", "rpc_errors", code, "name"),
                    f"{code}: name {error['name']} is already {names[error['name']]}'s",
                )
            names[error["name"]] = str(code)


def _example_errors(located: Located) -> Iterator[SpecError]:
    from .build import object_json_schemas

    schemas = object_json_schemas(
        located.data["objects"], "#/$defs/", located.data.get("limits", {})
    )
    for name, obj in located.data["objects"].items():
        schema = {**schemas[name], "$defs": schemas}
        for error in jsonschema.Draft202012Validator(schema).iter_errors(obj["example"]):
            where = "/".join(str(part) for part in error.absolute_path)
            path: Location = ("objects", name, "example", *error.absolute_path)
            yield SpecError(located.lines.line(path), f"{name}: example {where}: {error.message}")


def check_spec(located: Located) -> list[SpecError]:
    """Return every error of the spec, schema errors first; empty when the spec is sound."""
    errors = _schema_errors(located)
    if errors:
        return sorted(set(errors))
    use_engine(located.data["client"].get("engine", ENGINE))
    errors = _Checker(located).run()
    if not errors:
        errors = list(_example_errors(located))
    return sorted(set(errors))
