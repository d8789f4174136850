"""The struct classes come from datamodel-code-generator, checked against the IR."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codegen.build import build_ir
from codegen.loader import load_spec
from codegen.structs import render_structs

SPEC = Path(__file__).resolve().parents[2] / "spec" / "chat.yaml"


@pytest.fixture(scope="module")
def objects() -> tuple:  # type: ignore[type-arg]
    return build_ir(load_spec(SPEC).data).objects


def test_every_object_is_a_class_of_the_committed_models(objects: tuple, root: Path) -> None:  # type: ignore[type-arg]
    classes = render_structs(objects)
    models = (root / "generated" / "fabric_chat" / "models.py").read_text(encoding="utf-8")
    assert classes.strip() in models
    for obj in objects:
        assert f"\nclass {obj.name}(Model, kw_only=True, omit_defaults={obj.omit_defaults}):" in (
            "\n" + classes
        )
    # datamodel-code-generator's own spellings are written plainly by our template.
    assert "UNSET" not in classes
    assert "convert(" not in classes


def test_a_struct_that_disagrees_with_the_spec_stops_generation(objects: tuple) -> None:  # type: ignore[type-arg]
    page = next(obj for obj in objects if obj.name == "PageLinks")
    first = page.fields[0]
    # The IR says `self` is an int with default 0: datamodel-code-generator, fed the schema,
    # writes `str | None = None`, and the check names the difference.
    wrong_field = dataclasses.replace(first, annotation="int", default_expr="0")
    wrong = dataclasses.replace(page, fields=(wrong_field, *page.fields[1:]))
    bent = tuple(wrong if obj is page else obj for obj in objects)
    with pytest.raises(RuntimeError, match=r"PageLinks: wrote \('self', 'str \| None', 'None'\)"):
        render_structs(bent)
