"""The struct classes of ``models.py``, written by datamodel-code-generator from the IR.

datamodel-code-generator is driven as a library on a JSON Schema built from the IR's objects
(constraints left out: the models decode whatever a server sends; the server and the exports
are strict), through our msgspec template (``templates/structs``). Its output is then checked
against the IR, field by field, so a difference in names, types or defaults between what it
wrote and what the spec says stops ``make gen`` instead of shipping.
"""

from __future__ import annotations

import ast
import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from datamodel_code_generator import Formatter, InputFileType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType

from .build_objects import OPENAPI_PREFIX
from .ir import ObjectIR

__all__ = ["render_structs"]

_TEMPLATES = Path(__file__).with_name("templates") / "structs"
_DEFS = "#/$defs/"
_SCHEMA_KEYS = frozenset({"type", "items", "additionalProperties", "anyOf", "$ref", "default"})
"""What a property keeps for the models: its type, its items and its default (no constraints)."""


def _plain(schema: Any) -> Any:
    """Return a property schema with only what the models need, references into ``$defs``."""
    if isinstance(schema, list):
        return [_plain(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            kept[key] = _DEFS + str(value).removeprefix(OPENAPI_PREFIX)
        elif key == "default":
            kept[key] = value
        elif key in _SCHEMA_KEYS:
            kept[key] = _plain(value)
    return kept


def _document(objects: tuple[ObjectIR, ...]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for obj in objects:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {field.name: _plain(field.json_schema) for field in obj.fields},
        }
        if obj.required:
            schema["required"] = list(obj.required)
        defs[obj.name] = schema
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs}


def render_structs(objects: tuple[ObjectIR, ...]) -> str:
    """Return the source of every struct class of ``models.py`` (no header, no imports)."""
    # Per-class data for our template (datamodel-code-generator takes a defaultdict).
    per_class: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    per_class.update(
        {
            obj.name: {
                "omit_defaults": obj.omit_defaults,
                "docstring": obj.docstring,
                "field_docstrings": {field.name: field.docstring for field in obj.fields},
            }
            for obj in objects
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = generate(
            json.dumps(_document(objects)),
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.MsgspecStruct,
            target_python_version=PythonVersion.PY_311,
            disable_timestamp=True,
            use_union_operator=True,
            use_standard_collections=True,
            skip_root_model=True,
            keyword_only=True,
            formatters=[Formatter.RUFF_FORMAT],
            custom_template_dir=_TEMPLATES,
            extra_template_data=per_class,
        )
    if not isinstance(output, str):
        msg = "datamodel-code-generator returned several modules; expected one"
        raise TypeError(msg)
    classes = output[output.index("\nclass ") + 1 :]
    _check(objects, classes)
    return classes


def _check(objects: tuple[ObjectIR, ...], source: str) -> None:
    """Fail unless each object became its class, in order, with the IR's fields exactly."""
    written = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}
    problems: list[str] = []
    if list(written) != [obj.name for obj in objects]:
        problems.append(f"classes {list(written)} != objects {[obj.name for obj in objects]}")
    for obj in objects:
        node = written.get(obj.name)
        if node is None:
            continue
        got = [
            (
                ast.unparse(item.target),
                ast.unparse(item.annotation),
                None if item.value is None else ast.unparse(item.value),
            )
            for item in node.body
            if isinstance(item, ast.AnnAssign)
        ]
        want = [
            (
                field.name,
                ast.unparse(ast.parse(field.annotation, mode="eval").body),
                None
                if field.default_expr is None
                else ast.unparse(ast.parse(field.default_expr, mode="eval").body),
            )
            for field in obj.fields
        ]
        if len(got) != len(want):
            problems.append(f"{obj.name}: {len(got)} fields written, {len(want)} in the spec")
        else:
            problems.extend(
                f"{obj.name}: wrote {g}, the spec says {w}"
                for g, w in zip(got, want, strict=True)
                if g != w
            )
    if problems:
        msg = "datamodel-code-generator's structs differ from the spec:\n  " + "\n  ".join(problems)
        raise RuntimeError(msg)
