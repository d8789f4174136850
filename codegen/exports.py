"""The OpenAPI 3.1 and AsyncAPI 3.0 exports, rendered from Jinja templates over the IR.

Templates place IR values with ``tojson``; the result is parsed and dumped again, so the files
are valid JSON with stable layout.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

from .ir import PackageIR, RouteIR

__all__ = ["render_asyncapi", "render_openapi"]

_SCHEMA_REF = "#/components/schemas/"


def _param_schema(route: RouteIR) -> list[dict[str, Any]]:
    params = []
    for param in route.params:
        schema: dict[str, Any] = {"type": param.json_type}
        if param.default is not None:
            schema["default"] = param.default
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        if param.max_length is not None:
            schema["maxLength"] = param.max_length
        if param.pattern is not None:
            schema["pattern"] = param.pattern
        if param.location == "path" or param.json_type == "string":
            schema["minLength"] = 1
        params.append(
            {
                "name": param.name,
                "in": param.location,
                "required": param.required,
                "description": param.description,
                "schema": schema,
            }
        )
    return params


def _dump(text: str) -> str:
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def render_openapi(env: jinja2.Environment, ir: PackageIR, banner: str) -> str:
    """Return ``docs/openapi.json``."""
    schemas = {obj.name: obj.json_schema for obj in ir.objects}
    routes = [(route, _param_schema(route)) for route in ir.routes]
    paths: dict[str, list[tuple[RouteIR, list[dict[str, Any]]]]] = {}
    for route, params in routes:
        paths.setdefault(route.path, []).append((route, params))
    text = env.get_template("openapi.json.j2").render(
        ir=ir, banner=banner, schemas=schemas, paths=paths, ref=_SCHEMA_REF
    )
    return _dump(text)


def render_asyncapi(env: jinja2.Environment, ir: PackageIR, banner: str) -> str:
    """Return ``docs/asyncapi.json``."""
    schemas = {obj.name: obj.json_schema for obj in ir.objects}
    text = env.get_template("asyncapi.json.j2").render(
        ir=ir, banner=banner, schemas=schemas, ref=_SCHEMA_REF
    )
    return _dump(text)
