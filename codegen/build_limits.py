"""The spec's limits as IR: the limits table and the rules the server enforces per field."""

from __future__ import annotations

from typing import Any

from .binding import operation_params
from .build_objects import KEYWORDS, constraint_keywords, literal
from .ir import FieldRuleIR, LimitIR

__all__ = ["build_field_rules", "build_limits"]


def build_limits(data: dict[str, Any], limits: dict[str, Any]) -> tuple[LimitIR, ...]:
    """Return every limit with the places that name it, in the spec's order."""
    used: dict[str, list[str]] = {name: [] for name in limits}

    def note(spec: dict[str, Any], where: str) -> None:
        names = [spec[key] for key, _ in KEYWORDS if isinstance(spec.get(key), str)]
        names += list(spec.get("bounded_by", ()))
        for name in names:
            if where not in used[name]:
                used[name].append(where)

    for obj_name, obj in data["objects"].items():
        for prop_name, prop in obj["properties"].items():
            note(prop, f"{obj_name}.{prop_name}")
            if isinstance(prop.get("items"), dict):
                note(prop["items"], f"{obj_name}.{prop_name}[]")
    for op_id, op in data["operations"].items():
        for name, body in operation_params(data, op):
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


def build_field_rules(objects: dict[str, Any], limits: dict[str, Any]) -> tuple[FieldRuleIR, ...]:
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
                        f"{key}={literal(value)}"
                        for key, value in arguments.items()
                        if value is not None
                    ),
                )
            )
    return tuple(rules)
