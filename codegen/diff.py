"""``python -m codegen diff OLD NEW``: the breaking and the compatible changes between two specs.

In the spirit of ``buf breaking`` and oasdiff: a change breaks users when code or data that
worked against OLD can fail against NEW. Breaking: a method, namespace, parameter, object,
field, operation, route parameter, JSON-RPC method or event removed (a rename is a removal and
an addition); a type narrowed (fewer JSON types, null no longer admitted, another object, a
bound tightened); a parameter or field newly required; a default changed; what a method returns
changed; an operation moved to another method or path. Everything else that changes the
surface is listed as compatible. The exit status is 1 when something breaks.

OLD and NEW are spec files, or git revisions (``main``, ``HEAD~3``) whose ``spec/chat.yaml`` is
read with ``git show``.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .binding import operation_params, operation_returns
from .build_methods import iter_twin_name
from .loader import SpecErrors, load_spec
from .runtime_api import engine_methods

__all__ = ["Change", "diff_specs", "load_revision", "main_diff", "render_changes"]

_SPEC_PATH = "spec/chat.yaml"
_LOWER_BOUNDS = ("minimum", "min_length")
_UPPER_BOUNDS = ("maximum", "max_length")


@dataclass(frozen=True, order=True, slots=True)
class Change:
    """One difference between two specs."""

    breaking: bool
    where: str
    what: str

    def format(self) -> str:
        """Return the line ``BREAKING where: what`` or ``compatible where: what``."""
        return f"{'BREAKING  ' if self.breaking else 'compatible'} {self.where}: {self.what}"


def load_revision(ref: str, root: Path) -> dict[str, Any]:
    """Return the spec data of a file path, or of ``spec/chat.yaml`` at git revision ``ref``.

    Raises:
        ValueError: ``ref`` is neither a readable file nor a revision with the spec.
        SpecErrors: The spec is not valid YAML.
    """
    path = Path(ref)
    if path.is_file():
        return load_spec(path).data
    done = subprocess.run(
        ["git", "show", f"{ref}:{_SPEC_PATH}"],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if done.returncode != 0:
        msg = f"{ref!r} is neither a spec file nor a git revision with {_SPEC_PATH}"
        raise ValueError(msg)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / f"{ref.replace('/', '_')}.yaml"
        copy.write_text(done.stdout, encoding="utf-8")
        return load_spec(copy).data


def _types(spec: dict[str, Any]) -> frozenset[str]:
    """Return what a property or parameter admits: JSON types, ``$ref`` names, ``null``."""
    if "$ref" in spec:
        found = {f"${spec['$ref']}"}
        if spec.get("nullable") or spec.get("default", ...) is None:
            found.add("null")
        return frozenset(found)
    kind = spec.get("type", "object")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "items" in spec:
        item = spec["items"]
        kinds = {
            f"array[{item.get('$ref') or item.get('type')}]" if k == "array" else k for k in kinds
        }
    if "values" in spec:
        value = spec["values"]
        kinds = {
            f"map[{value.get('$ref') or value.get('type')}]" if k == "object" else k for k in kinds
        }
    if spec.get("default", ...) is None:
        kinds.add("null")
    if kinds & {"integer"} and "number" in kinds:
        kinds.discard("integer")
    return frozenset(kinds)


def _resolved(spec: dict[str, Any], key: str, limits: dict[str, Any]) -> Any:
    """Return a constraint's value, or the value of the limit it names."""
    value = spec.get(key)
    if isinstance(value, str) and isinstance(limits.get(value), dict):
        return limits[value].get("value")
    return value


def _narrowing(
    old: dict[str, Any], new: dict[str, Any], old_limits: dict[str, Any], new_limits: dict[str, Any]
) -> list[str]:
    """Return how ``new`` admits less than ``old`` (empty when it admits as much or more)."""
    found = []
    lost = sorted(_types(old) - _types(new))
    if lost:
        found.append(f"type narrowed ({' | '.join(lost)} no longer admitted)")
    for keys, tighter, verb in ((_LOWER_BOUNDS, 1, "raised"), (_UPPER_BOUNDS, -1, "lowered")):
        for key in keys:
            before, after = _resolved(old, key, old_limits), _resolved(new, key, new_limits)
            if not isinstance(after, int | float):
                continue
            if not isinstance(before, int | float):
                found.append(f"{key} set to {after}")
            elif (after - before) * tighter > 0:
                found.append(f"{key} {verb} to {after}")
    pattern = _resolved(new, "pattern", new_limits)
    if pattern is not None and pattern != _resolved(old, "pattern", old_limits):
        found.append(f"pattern changed to {pattern!r}")
    if "enum" in new and "enum" not in old:
        found.append(f"enum set (only {', '.join(map(str, new['enum']))} accepted)")
    elif "enum" in new:
        dropped = sorted(set(old["enum"]) - set(new["enum"]))
        if dropped:
            found.append(f"enum narrowed ({', '.join(map(str, dropped))} no longer accepted)")
    return found


class _Differ:
    def __init__(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.old = old
        self.new = new
        self.changes: list[Change] = []

    def add(self, breaking: bool, where: str, what: str) -> None:
        self.changes.append(Change(breaking, where, what))

    def keyed(self, where: str, kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        """Record removed and added keys; return the keys both have."""
        for name in old.keys() - new.keys():
            self.add(True, where, f"{kind} {name!r} removed")
        for name in new.keys() - old.keys():
            self.add(False, where, f"{kind} {name!r} added")
        return [name for name in old if name in new]

    def run(self) -> list[Change]:
        self.limits()
        self.objects()
        self.operations()
        self.websocket()
        self.methods()
        return sorted(set(self.changes), key=lambda c: (not c.breaking, c.where, c.what))

    def limits(self) -> None:
        old, new = self.old.get("limits", {}), self.new.get("limits", {})
        for name in self.keyed("limits", "limit", old, new):
            before, after = old[name]["value"], new[name]["value"]
            if before == after:
                continue
            raised = isinstance(before, int | float) and isinstance(after, int | float)
            breaking = not (raised and after > before)
            self.add(breaking, f"limits.{name}", f"value changed from {before!r} to {after!r}")

    def objects(self) -> None:
        old, new = self.old["objects"], self.new["objects"]
        for name in self.keyed("objects", "object", old, new):
            where = f"objects.{name}"
            old_props, new_props = old[name]["properties"], new[name]["properties"]
            old_required = set(old[name].get("required", ()))
            new_required = set(new[name].get("required", ()))
            for prop in new_props.keys() - old_props.keys():
                required = prop in new_required
                self.add(
                    required, where, f"field {prop!r} added{' as required' if required else ''}"
                )
            for prop in old_props.keys() - new_props.keys():
                self.add(True, where, f"field {prop!r} removed")
            for prop in (p for p in old_props if p in new_props):
                self.field(f"{where}.{prop}", old_props[prop], new_props[prop])
                if prop in new_required and prop not in old_required:
                    self.add(True, f"{where}.{prop}", "field newly required")
                elif prop in old_required and prop not in new_required:
                    self.add(False, f"{where}.{prop}", "field no longer required")

    def field(self, where: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        limits = (self.old.get("limits", {}), self.new.get("limits", {}))
        for what in _narrowing(old, new, *limits):
            self.add(True, where, what)
        widened = sorted(_types(new) - _types(old))
        if widened:
            self.add(False, where, f"type widened ({' | '.join(widened)} admitted)")
        if "default" in old and "default" in new and old["default"] != new["default"]:
            self.add(True, where, f"default changed from {old['default']!r} to {new['default']!r}")

    def route_params(self, where: str, old_op: dict[str, Any], new_op: dict[str, Any]) -> None:
        old = dict(operation_params(self.old, old_op))
        new = dict(operation_params(self.new, new_op))
        for name in new.keys() - old.keys():
            required = bool(new[name].get("required"))
            self.add(
                required, where, f"parameter {name!r} added{' as required' if required else ''}"
            )
        for name in old.keys() - new.keys():
            self.add(True, where, f"parameter {name!r} removed")
        for name in (n for n in old if n in new):
            self.field(f"{where}.{name}", old[name], new[name])
            if new[name].get("required") and not old[name].get("required"):
                self.add(True, f"{where}.{name}", "parameter newly required")

    def operations(self) -> None:
        old, new = self.old["operations"], self.new["operations"]
        for op_id in self.keyed("operations", "operation", old, new):
            where = f"operations.{op_id}"
            for key in ("method", "path"):
                if old[op_id][key] != new[op_id][key]:
                    self.add(
                        True, where, f"{key} changed from {old[op_id][key]} to {new[op_id][key]}"
                    )
            if old[op_id]["response"]["type"] != new[op_id]["response"]["type"]:
                self.add(True, where, "response type changed")
            self.route_params(where, old[op_id], new[op_id])

    def websocket(self) -> None:
        old, new = self.old["websocket"], self.new["websocket"]
        self.keyed(
            "websocket.rpc_methods", "JSON-RPC method", old["rpc_methods"], new["rpc_methods"]
        )
        for name in self.keyed("websocket.events", "event", old["events"], new["events"]):
            if old["events"][name]["payload"] != new["events"][name]["payload"]:
                self.add(True, f"websocket.events.{name}", "payload type changed")

    def owners(self, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
        owners = {"client": _with_twins(data, data["client"]["methods"])}
        for attr, namespace in data["namespaces"].items():
            owners[f"client.{attr}"] = _with_twins(data, namespace["methods"])
        return owners

    def methods(self) -> None:
        old, new = self.owners(self.old), self.owners(self.new)
        for owner in self.keyed("client", "namespace", old, new):
            for name in self.keyed(owner, "method", old[owner], new[owner]):
                if "twin_of" in old[owner][name] and "twin_of" in new[owner][name]:
                    continue  # a change of both twins is reported on their paged methods
                self.method(f"{owner}.{name}", old[owner][name], new[owner][name])

    def returns(self, data: dict[str, Any], method: dict[str, Any]) -> tuple[str, str]:
        """Return (kind, type) of what a method returns, in the old format or the new."""
        if "operation" in method:
            op = data["operations"].get(method["operation"])
            return operation_returns(data, op) if op is not None else ("?", method["operation"])
        engine = method["engine"]
        declared = method.get("returns", {})
        if "kind" in declared:
            return (declared["kind"], engine["type"])
        known = engine_methods().get(engine["method"])
        return (known.kind if known is not None else engine["method"], engine["type"])

    def method(self, where: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        old_params, new_params = old.get("params", {}), new.get("params", {})
        for name in new_params.keys() - old_params.keys():
            required = "default" not in new_params[name]
            self.add(
                required, where, f"parameter {name!r} added{' as required' if required else ''}"
            )
        for name in old_params.keys() - new_params.keys():
            self.add(True, where, f"parameter {name!r} removed")
        for name in (n for n in old_params if n in new_params):
            self.field(f"{where}.{name}", old_params[name], new_params[name])
            if "default" in old_params[name] and "default" not in new_params[name]:
                self.add(True, f"{where}.{name}", "parameter newly required")
            elif "default" not in old_params[name] and "default" in new_params[name]:
                self.add(False, f"{where}.{name}", "parameter now optional")
        if self.returns(self.old, old) != self.returns(self.new, new):
            self.add(True, where, "what the method returns changed")


def _with_twins(data: dict[str, Any], methods: dict[str, Any]) -> dict[str, Any]:
    """Return ``methods`` and the ``iter_*`` twin the generator makes of each paged one (as
    a method of the same parameters that iterates), so that a hand-written ``iter_*`` that
    became a generated twin is no change for its users."""
    found = dict(methods)
    for name, method in methods.items():
        if "operation" in method:
            op = data["operations"].get(method["operation"])
            kind, item = operation_returns(data, op) if op is not None else ("?", "?")
        else:
            known = engine_methods().get(method["engine"]["method"])
            kind = method.get("returns", {}).get("kind") or (known.kind if known else "?")
            item = method["engine"]["type"]
        if kind == "page":
            found.setdefault(
                iter_twin_name(name),
                {
                    "params": method.get("params", {}),
                    "engine": {"method": "iter_pages", "type": item},
                    "returns": {"kind": "iterator"},
                    "twin_of": name,
                },
            )
    return found


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Return every change from ``old`` to ``new``, breaking ones first."""
    return _Differ(old, new).run()


def render_changes(changes: list[Change]) -> str:
    """Return the report: one line per change and a last line that sums it up."""
    lines = [change.format() for change in changes]
    breaking = sum(change.breaking for change in changes)
    if breaking:
        lines.append(f"{breaking} breaking change(s), {len(changes) - breaking} compatible")
    elif changes:
        lines.append(f"no breaking change, {len(changes)} compatible")
    else:
        lines.append("no change to the spec's surface")
    return "\n".join(lines) + "\n"


def main_diff(old_ref: str, new_ref: str, root: Path) -> tuple[int, str]:
    """Return the exit status and the report of ``diff OLD NEW``."""
    try:
        old, new = load_revision(old_ref, root), load_revision(new_ref, root)
    except (ValueError, SpecErrors) as exc:
        return 2, f"codegen diff: {exc}\n"
    changes = diff_specs(old, new)
    return (1 if any(change.breaking for change in changes) else 0), render_changes(changes)
