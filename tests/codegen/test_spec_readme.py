"""spec/README.md documents every key of the spec format, with the issue's example."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from codegen.checks import spec_schema

from .conftest import ROOT
from .spec_packages import ISSUE_METHODS

README = (ROOT / "spec" / "README.md").read_text(encoding="utf-8")


def _keys(schema: Any) -> Iterator[str]:
    """Yield the name of every property any (sub)schema of ``schema`` declares."""
    if isinstance(schema, dict):
        properties = schema.get("properties", {})
        yield from properties
        for key, value in schema.items():
            children = value.values() if key in {"properties", "$defs"} else [value]
            for child in children:
                yield from _keys(child)
    elif isinstance(schema, list):
        for value in schema:
            yield from _keys(value)


def test_every_key_of_the_format_is_documented() -> None:
    keys = set(_keys(spec_schema()))
    assert {"operation", "engine", "params", "values", "limits", "package"} <= keys
    missing = sorted(key for key in keys if f"`{key}`" not in README)
    assert missing == []


def test_the_issue_example_is_in_the_readme() -> None:
    for line in ISSUE_METHODS.splitlines():
        assert line in README
