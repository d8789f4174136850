"""Fixtures of the generator's tests: the repository root and one in-memory render."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.checks import check_spec
from codegen.loader import load_spec
from codegen.render import render_all

from .spec_packages import generate, spec_with_issue_methods

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "chat.yaml"


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """Every generated file, rendered in memory from the committed spec."""
    located = load_spec(SPEC)
    assert check_spec(located) == []
    return render_all(located.data, ROOT)


@pytest.fixture(scope="session")
def issue_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package generated from a copy of the spec with the issue's two methods added."""
    out = tmp_path_factory.mktemp("issue-11")
    spec = out / "chat.yaml"
    spec.write_text(spec_with_issue_methods(SPEC.read_text(encoding="utf-8")), encoding="utf-8")
    return generate(spec, out)


@pytest.fixture(scope="session")
def library_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package generated from the second spec (a lending library)."""
    out = tmp_path_factory.mktemp("library")
    return generate(ROOT / "tests" / "codegen" / "library" / "library.yaml", out)
