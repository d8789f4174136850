"""Bind an SDK method to its operation by name, and derive what it returns.

A method that names an ``operation`` binds each of its parameters, by name, to one of that
operation's path, query or header parameters (a header ``Idempotency-Key`` is bound by
``idempotency_key``) or to a field of its request body. What the method returns is the
operation's response: a page of ``X`` when the response is a page envelope (an object with
``data: [X]`` and ``links``), the response object otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Binding",
    "Target",
    "bind",
    "engine_headers",
    "operation_params",
    "operation_returns",
    "page_item",
    "py_name",
]

_PAGE_KEYS = frozenset({"data", "links"})


@dataclass(frozen=True, slots=True)
class Target:
    """What one name of an operation stands for: a parameter or a body field."""

    location: str
    """``path``, ``query``, ``header`` or ``body``."""
    wire_name: str
    spec: dict[str, Any]
    """The parameter's or the body property's spec."""
    required: bool


@dataclass(frozen=True, slots=True)
class Binding:
    """A method's parameters, each bound to a target of its operation, and its return."""

    operation: str
    available: dict[str, Target]
    """Every target of the operation, by the name a parameter binds it with."""
    targets: dict[str, Target]
    """Each method parameter's target, by the parameter's name."""
    body_type: str | None
    kind: str
    """``object`` or ``page``."""
    item_type: str
    unbound: tuple[str, ...]
    """Method parameters that bind to nothing (a spec error)."""
    missing: tuple[str, ...]
    """Required targets no parameter binds (a spec error)."""


def py_name(wire_name: str) -> str:
    """Return the name a parameter binds by: ``Idempotency-Key`` is ``idempotency_key``."""
    return wire_name.lower().replace("-", "_")


def operation_params(data: dict[str, Any], op: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(name, spec)`` of each path, query and header parameter of an operation."""
    shared: dict[str, Any] = data["parameters"]
    params = []
    for param in op.get("params", []):
        if "$ref" in param:
            params.append((str(param["$ref"]), shared[param["$ref"]]))
        else:
            params.append((str(param["name"]), param))
    return params


def page_item(data: dict[str, Any], type_name: str) -> str | None:
    """Return ``X`` when object ``type_name`` is a page envelope of ``X``, else None."""
    obj = data["objects"].get(type_name)
    if obj is None or not set(obj["properties"]) >= _PAGE_KEYS:
        return None
    items = obj["properties"]["data"].get("items", {})
    return str(items["$ref"]) if "$ref" in items else None


def operation_returns(data: dict[str, Any], op: dict[str, Any]) -> tuple[str, str]:
    """Return ``(kind, type)`` of what a method of operation ``op`` gives back."""
    response = str(op["response"]["type"])
    item = page_item(data, response)
    return ("page", item) if item is not None else ("object", response)


def _targets(data: dict[str, Any], op: dict[str, Any]) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for name, spec in operation_params(data, op):
        required = bool(spec.get("required", False)) or spec["in"] == "path"
        targets[py_name(name)] = Target(spec["in"], name, spec, required)
    body = data["objects"].get(op.get("body", ""))
    if body is not None:
        required_fields = set(body.get("required", ()))
        for name, spec in body["properties"].items():
            targets.setdefault(name, Target("body", name, spec, name in required_fields))
    return targets


def bind(data: dict[str, Any], method: dict[str, Any]) -> Binding:
    """Bind ``method`` (which names an ``operation`` of the spec) to that operation."""
    op_id = str(method["operation"])
    op = data["operations"][op_id]
    available = _targets(data, op)
    params: dict[str, Any] = method.get("params", {})
    targets = {name: available[name] for name in params if name in available}
    kind, item_type = operation_returns(data, op)
    paging = {"page_token"} if kind == "page" else set()
    missing = tuple(
        name
        for name, target in available.items()
        if target.required and name not in targets and name not in paging
    )
    return Binding(
        operation=op_id,
        available=available,
        targets=targets,
        body_type=op.get("body"),
        kind=kind,
        item_type=item_type,
        unbound=tuple(name for name in params if name not in available),
        missing=missing,
    )


def engine_headers(data: dict[str, Any], method: dict[str, Any]) -> dict[str, Target]:
    """Return the header parameters of the operation an ``engine`` method names, by the name a
    parameter binds them with (``Idempotency-Key``: ``idempotency_key``).

    An engine method's wire calls are hand-written; naming its ``operation`` lets a parameter
    bind by name to one of that operation's headers, which the engine then sends.
    """
    op_id = method.get("engine", {}).get("operation")
    op = data["operations"].get(op_id) if op_id is not None else None
    if op is None:
        return {}
    return {
        name: target for name, target in _targets(data, op).items() if target.location == "header"
    }
