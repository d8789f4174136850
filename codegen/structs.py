"""Render the msgspec structs with datamodel-code-generator, driven as a library."""

from __future__ import annotations

import json
import re
import textwrap
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from datamodel_code_generator import Formatter, InputFileType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType

from .build import object_json_schemas

__all__ = ["render_structs"]

_TEMPLATES = Path(__file__).with_name("templates") / "structs"
_WIDTH = 86


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, _WIDTH))


def _wrapped(schemas: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Wrap long descriptions so that docstrings stay within the line length."""
    result: dict[str, dict[str, Any]] = {}
    for name, schema in schemas.items():
        props = {
            prop: {**body, "description": _wrap(body["description"])}
            for prop, body in schema["properties"].items()
        }
        result[name] = {**schema, "description": _wrap(schema["description"]), "properties": props}
        result[name].pop("title", None)
    return result


def render_structs(objects: dict[str, Any], banner: str) -> str:
    """Return the source of ``models.py`` (before our ruff pass) for the spec's objects.

    The structs get no limits (they decode what any server sends); the server enforces them.
    """
    schemas = _wrapped(object_json_schemas(objects, "#/$defs/"))
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": schemas}
    # Per-class template data: objects the server sends keep every key on the wire.
    per_class: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    for name, obj in objects.items():
        per_class[name]["omit_defaults"] = bool(obj.get("omit_defaults", True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = generate(
            json.dumps(document),
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.MsgspecStruct,
            target_python_version=PythonVersion.PY_311,
            disable_timestamp=True,
            use_field_description=True,
            use_schema_description=True,
            use_union_operator=True,
            use_standard_collections=True,
            skip_root_model=True,
            keyword_only=True,
            formatters=[Formatter.RUFF_FORMAT],
            custom_template_dir=_TEMPLATES,
            custom_file_header=banner,
            extra_template_data=per_class,
        )
    if not isinstance(output, str):
        msg = "datamodel-code-generator returned several modules; expected one"
        raise TypeError(msg)
    _verify(objects, output)
    return output


def _verify(objects: dict[str, Any], source: str) -> None:
    """Fail unless every object became a class of its own name with its fields unrenamed."""
    classes = set(re.findall(r"^class (\w+)\(Struct\b", source, re.MULTILINE))
    problems = [f"object {name!r} has no class" for name in objects if name not in classes]
    if "field(name=" in source or "= UNSET" in source or "default=UNSET" in source:
        problems.append("a field was renamed or left without its default")
    if problems:
        msg = "datamodel-code-generator output does not match the spec: " + "; ".join(problems)
        raise RuntimeError(msg)
