"""Fixtures of the generator's tests: the repository root and one in-memory render."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.checks import check_spec
from codegen.loader import load_spec
from codegen.render import render_all

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
