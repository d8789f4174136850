"""The OpenAPI 3.1 and AsyncAPI 3.0 exports, rendered from Jinja templates over the IR.

Templates place IR values with ``tojson``; the result is parsed and dumped again, so the files
are valid JSON with stable layout. The spec's examples and tags are added on the parsed
document: each object's example as its schema's ``examples``, and as the example of every
request and answer body of that type; each operation's tags, described at the top.
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


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _with_examples(document: dict[str, Any], ir: PackageIR) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    for obj in ir.objects:
        schemas[obj.name]["examples"] = [obj.example]
    return document


def _tag_list(ir: PackageIR) -> list[dict[str, str]]:
    return [{"name": name, "description": description} for name, description in ir.tags]


def _body_example(content: dict[str, Any], examples: dict[str, Any]) -> None:
    media = content.get("application/json")
    if media is None:
        return
    name = media["schema"]["$ref"].removeprefix(_SCHEMA_REF)
    if name in examples:
        media["examples"] = {name: {"value": examples[name]}}


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
    document = _with_examples(json.loads(text), ir)
    examples = {obj.name: obj.example for obj in ir.objects}
    for route in ir.routes:
        operation = document["paths"][route.path][route.method.lower()]
        if route.tags:
            operation["tags"] = list(route.tags)
        if "requestBody" in operation:
            _body_example(operation["requestBody"]["content"], examples)
        for answer in operation["responses"].values():
            _body_example(answer.get("content", {}), examples)
    if ir.tags:
        document["tags"] = _tag_list(ir)
    return _dump(document)


def render_asyncapi(env: jinja2.Environment, ir: PackageIR, banner: str) -> str:
    """Return ``docs/asyncapi.json``."""
    schemas = {obj.name: obj.json_schema for obj in ir.objects}
    text = env.get_template("asyncapi.json.j2").render(
        ir=ir, banner=banner, schemas=schemas, ref=_SCHEMA_REF
    )
    document = _with_examples(json.loads(text), ir)
    operations = document["operations"]
    for method in ir.rpc_methods:
        if method.tags:
            operations[method.name]["tags"] = [{"name": tag} for tag in method.tags]
    for event in ir.events:
        if event.tags:
            operations[f"event.{event.name}"]["tags"] = [{"name": tag} for tag in event.tags]
    if ir.tags:
        document["info"]["tags"] = _tag_list(ir)
    return _dump(document)
