"""The checks of the spec's SDK methods: binding by name, engine semantics, parameters."""

from __future__ import annotations

from typing import Any

from .binding import bind, engine_headers
from .loader import Location
from .runtime_api import engine_methods, error_docs

__all__ = ["PY_TYPES", "MethodChecks", "matches", "target_kind"]

_SCALARS = ("string", "integer", "number", "boolean")

_EXAMPLE_WIDTH = 84
_HEADERS = "headers"
"""The engine keyword that takes the headers an engine method's parameters bind to."""
PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def matches(value: object, types: list[str]) -> bool:
    """Return whether ``value`` is of one of the JSON ``types``."""
    for name in types:
        if name == "null":
            if value is None:
                return True
            continue
        expected = PY_TYPES[name]
        if isinstance(value, bool) and name not in {"boolean"}:
            continue
        if isinstance(value, expected):
            return True
    return False


class MethodChecks:
    """The method checks of the spec checker; it provides ``fail``, ``ref`` and ``bounds``."""

    data: dict[str, Any]

    def fail(self, path: Location, message: str) -> None:
        raise NotImplementedError

    def ref(self, path: Location, name: object, kind: str = "type") -> None:
        raise NotImplementedError

    def bounds(self, path: Location, name: str, spec: dict[str, Any], value: object) -> None:
        raise NotImplementedError

    def method(self, path: Location, method: dict[str, Any]) -> None:
        params: dict[str, Any] = method.get("params", {})
        if "operation" in method:
            self.bound_method(path, method)
        else:
            self.engine_method(path, method)
        for name, param in params.items():
            ppath: Location = (*path, "params", name)
            if "$ref" in param:
                self.ref((*ppath, "$ref"), param["$ref"])
            if "$ref" in param.get("items", {}):
                self.ref((*ppath, "items", "$ref"), param["items"]["$ref"])
            if param.get("type") == "array" and "items" not in param:
                self.fail(ppath, f"{name}: an array parameter needs items")
            self.method_param(ppath, name, param)
        docs = error_docs()
        for index, name in enumerate(method.get("raises", [])):
            if name not in docs:
                self.fail((*path, "raises", index), f"unknown error class {name!r}")
        for offset, line in enumerate(method.get("example", "").splitlines()):
            if len(line) > _EXAMPLE_WIDTH:
                self.fail(
                    (*path, "example"),
                    f"example line {offset + 1} is longer than {_EXAMPLE_WIDTH} characters",
                )

    def bound_method(self, path: Location, method: dict[str, Any]) -> None:
        operation = method["operation"]
        if "engine" in method:
            self.fail((*path, "engine"), "a method has an operation or an engine, not both")
        if operation not in self.data["operations"]:
            self.fail((*path, "operation"), f"unknown operation {operation!r}")
            return
        binding = bind(self.data, method)
        for name in binding.unbound:
            self.fail(
                (*path, "params", name),
                f"parameter {name!r} binds to nothing of operation {operation!r} "
                "(no path, query or header parameter or body field of that name)",
            )
        for name in binding.missing:
            target = binding.available[name]
            what = "body field" if target.location == "body" else f"{target.location} parameter"
            self.fail(
                (*path, "operation"),
                f"operation {operation!r} needs its required {what} {target.wire_name!r}; "
                f"add a parameter {name!r}",
            )
        for name, target in binding.targets.items():
            param = method["params"][name]
            expected = target_kind(target.spec)
            given = f"$ref {param['$ref']}" if "$ref" in param else param.get("type")
            if expected is not None and given != expected:
                self.fail(
                    (*path, "params", name),
                    f"parameter {name!r} is {given} but {target.location} "
                    f"{target.wire_name!r} of {operation!r} is {expected}",
                )

    def engine_method(self, path: Location, method: dict[str, Any]) -> None:
        engine_spec = method["engine"]
        engine_name = engine_spec["method"]
        engine = engine_methods().get(engine_name)
        if engine is None:
            self.fail((*path, "engine", "method"), f"unknown engine method {engine_name!r}")
            return
        if engine.takes_operation:
            self.fail(
                (*path, "engine", "method"),
                f"engine method {engine_name!r} calls an operation: write operation: <id> "
                "and bind the parameters by name instead",
            )
            return
        self.ref((*path, "engine", "type"), engine_spec["type"])
        operation = engine_spec.get("operation")
        if operation is not None and operation not in self.data["operations"]:
            self.fail((*path, "engine", "operation"), f"unknown operation {operation!r}")
            return
        headers = engine_headers(self.data, method) if _HEADERS in engine.keywords else {}
        accepted = set(engine.positional) | set(engine.keywords)
        args: dict[str, Any] = engine_spec.get("args", {})
        params: dict[str, Any] = method.get("params", {})
        for name in args:
            if name not in accepted:
                self.fail(
                    (*path, "engine", "args", name),
                    f"{name!r} is not an argument of engine method {engine_name!r}",
                )
            if name in params:
                self.fail(
                    (*path, "engine", "args", name),
                    f"{name!r} is both a parameter and a fixed engine argument",
                )
        for name in params:
            if name in headers:
                expected = target_kind(headers[name].spec)
                given = params[name].get("type")
                if expected is not None and given != expected:
                    self.fail(
                        (*path, "params", name),
                        f"parameter {name!r} is {given} but header "
                        f"{headers[name].wire_name!r} of {operation!r} is {expected}",
                    )
            elif name not in accepted:
                self.fail(
                    (*path, "params", name),
                    f"parameter {name!r} is not an argument of engine method {engine_name!r}"
                    + (
                        f" nor a header of operation {operation!r}" if operation is not None else ""
                    ),
                )
        for name in (*engine.positional, *engine.keywords):
            if name not in engine.optional and name not in params and name not in args:
                self.fail(
                    (*path, "engine"), f"engine method {engine_name!r} needs argument {name!r}"
                )

    def method_param(self, path: Location, name: str, param: dict[str, Any]) -> None:
        kind = param.get("type", "$ref")
        if "default" not in param:
            return
        default = param["default"]
        if kind == "callback" or (kind in {"object", "array", "$ref"} and default is not None):
            self.fail((*path, "default"), f"{name}: a {kind} parameter can only default to null")
            return
        if default is not None and kind in _SCALARS and not matches(default, [kind]):
            self.fail((*path, "default"), f"{name}: default {default!r} does not match type {kind}")
            return
        self.bounds(path, name, param, default)


def target_kind(spec: dict[str, Any]) -> str | None:
    """Return how a method parameter bound to ``spec`` must be typed, or None if any type goes."""
    if "$ref" in spec:
        return f"$ref {spec['$ref']}"
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    kinds = [kind for kind in kinds if kind != "null"]
    return kinds[0] if len(kinds) == 1 else None
