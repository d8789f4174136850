"""MkDocs hook: render the REST and WebSocket references from the OpenAPI and AsyncAPI exports.

``docs/openapi.json`` and ``docs/asyncapi.json`` are generated from ``spec/chat.yaml`` by
``make gen``; this hook turns them into two Markdown pages at build time (nothing is written
to the source tree): operations grouped by tag, their parameters, bodies, responses and the
spec's examples, then every schema with its fields and example.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

__all__ = ["on_files", "render_asyncapi", "render_openapi"]

ROOT = Path(__file__).resolve().parent.parent
_SCHEMAS = "#/components/schemas/"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _anchor(name: str) -> str:
    return "schema-" + name.lower()


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(_SCHEMAS)
        return f"[{name}](#{_anchor(name)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = " or ".join(kinds) + (" or null" if "null" in kind else "")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"array of {_type(schema['items'])}"
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return " or ".join(_type(s) for s in schema[combinator])
    return str(kind)


def _example(value: Any, title: str = "Example") -> list[str]:
    return [f"{title}:", "", "```json", json.dumps(value, indent=2, ensure_ascii=False), "```", ""]


def _schemas(schemas: dict[str, Any]) -> list[str]:
    lines = ["## Schemas", ""]
    for name in sorted(schemas):
        schema = schemas[name]
        lines += [f"### {name} {{#{_anchor(name)}}}", "", schema.get("description", ""), ""]
        properties: dict[str, Any] = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", ()))
            lines += ["| field | type | required | description |", "|---|---|---|---|"]
            for field, spec in properties.items():
                lines.append(
                    f"| `{field}` | {_cell(_type(spec))} | {'yes' if field in required else ''} "
                    f"| {_cell(spec.get('description', ''))} |"
                )
            lines.append("")
        for example in schema.get("examples", ()):
            lines += _example(example)
    return lines


def render_openapi(spec: dict[str, Any]) -> str:
    """Return the Markdown of the REST reference."""
    info = spec["info"]
    lines = [
        "# REST API",
        "",
        f"{info['title']} {info['version']}, rendered from `docs/openapi.json` (OpenAPI "
        f"{spec['openapi']}). {info.get('description', '')}",
        "",
    ]
    described = {tag["name"]: tag.get("description", "") for tag in spec.get("tags", ())}
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for tag in operation.get("tags") or ["Other"]:
                by_tag.setdefault(tag, []).append((method.upper(), path, operation))
    order = [t for t in described if t in by_tag] + sorted(t for t in by_tag if t not in described)
    for tag in order:
        lines += [f"## {tag}", "", described.get(tag, ""), ""]
        for method, path, operation in by_tag[tag]:
            lines += [f"### `{method} {path}`", "", operation.get("summary", ""), ""]
            lines += [f"Operation id: `{operation['operationId']}`.", ""]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | type | required | description |"]
                lines += ["|---|---|---|---|---|"]
                for param in parameters:
                    lines.append(
                        f"| `{param['name']}` | {param['in']} | {_cell(_type(param['schema']))} | "
                        f"{'yes' if param.get('required') else ''} | "
                        f"{_cell(param.get('description', ''))} |"
                    )
                lines.append("")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                lines += [f"Request body: {_type(body['schema'])}.", ""]
                for example in body.get("examples", {}).values():
                    lines += _example(example["value"], "Example request")
            lines += ["| status | body | meaning |", "|---|---|---|"]
            answers = operation["responses"].items()
            for status, answer in answers:
                content = answer.get("content", {}).get("application/json", {})
                kind = _type(content["schema"]) if "schema" in content else ""
                lines.append(f"| {status} | {_cell(kind)} | {_cell(answer['description'])} |")
            lines.append("")
            for status, answer in answers:
                content = answer.get("content", {}).get("application/json", {})
                for example in content.get("examples", {}).values():
                    lines += _example(example["value"], f"Example {status} answer")
    return "\n".join(lines + _schemas(spec["components"]["schemas"])) + "\n"


def _payload_params(message: dict[str, Any]) -> str:
    params = message.get("payload", {}).get("properties", {}).get("params")
    if not isinstance(params, dict):
        return ""
    inner = params.get("properties", {}).get("params")
    return _type(inner if isinstance(inner, dict) else params)


def render_asyncapi(spec: dict[str, Any]) -> str:
    """Return the Markdown of the WebSocket reference."""
    info = spec["info"]
    messages: dict[str, Any] = spec["components"]["messages"]
    lines = [
        "# WebSocket API",
        "",
        f"{info['title']} {info['version']}, rendered from `docs/asyncapi.json` (AsyncAPI "
        f"{spec['asyncapi']}).",
        "",
        info.get("description", ""),
        "",
        "## Methods and events",
        "",
    ]
    for name, operation in spec["operations"].items():
        who = operation.get("x-direction", "server")
        lines += [f"### `{name}`", "", operation.get("summary", ""), ""]
        caller = {"client": "the client", "server": "the server", "both": "either side"}
        lines += [f"Sent by {caller.get(who, who)} (`{operation['action']}`)."]
        if operation.get("tags"):
            lines += [f" Tags: {', '.join(t['name'] for t in operation['tags'])}."]
        lines.append("")
        for ref in operation.get("messages", []) + operation.get("reply", {}).get("messages", []):
            key = ref["$ref"].rsplit("/", 1)[1]
            message = messages.get(key, {})
            params = _payload_params(message)
            lines.append(f"- `{key}`" + (f": params {params}" if params else ""))
        lines.append("")
        if operation.get("x-error-codes"):
            codes = ", ".join(f"`{code}`" for code in operation["x-error-codes"])
            lines += [f"Error codes: {codes}.", ""]
        for ref in operation.get("messages", []):
            key = ref["$ref"].rsplit("/", 1)[1]
            for example in messages.get(key, {}).get("examples", ()):
                lines += _example(example.get("payload", example), "Example frame")
    return "\n".join(lines + _schemas(spec["components"]["schemas"])) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add ``reference/rest.md`` and ``reference/websocket.md``, rendered from the exports."""
    for uri, export, render in (
        ("reference/rest.md", "openapi.json", render_openapi),
        ("reference/websocket.md", "asyncapi.json", render_asyncapi),
    ):
        spec = json.loads((ROOT / "docs" / export).read_text(encoding="utf-8"))
        files.append(File.generated(config, uri, content=render(spec)))
    return files
