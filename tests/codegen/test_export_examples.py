"""The OpenAPI and AsyncAPI exports carry the spec's examples and tags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ROOT / "docs" / name).read_text(encoding="utf-8"))
    return document


def test_every_object_example_is_in_both_exports() -> None:
    spec = yaml.safe_load((ROOT / "spec" / "chat.yaml").read_text(encoding="utf-8"))
    for name in ("openapi.json", "asyncapi.json"):
        schemas = _load(name)["components"]["schemas"]
        for obj_name, obj in spec["objects"].items():
            assert schemas[obj_name]["examples"] == [obj["example"]], (name, obj_name)


def test_every_operation_is_tagged_and_its_bodies_have_examples() -> None:
    openapi = _load("openapi.json")
    declared = [tag["name"] for tag in openapi["tags"]]
    assert declared == [
        "Subscribers",
        "Addresses",
        "Conversations",
        "Session",
        "Events",
        "Operations",
    ]
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            assert operation["tags"], (method, path)
            assert set(operation["tags"]) <= set(declared), (method, path)
            answer = operation["responses"][min(operation["responses"])]
            assert answer["content"]["application/json"]["examples"], (method, path)
            if "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"]["examples"]
    asyncapi = _load("asyncapi.json")
    for name, operation in asyncapi["operations"].items():
        assert [tag["name"] for tag in operation["tags"]] in (["Session"], ["Events"]), name
