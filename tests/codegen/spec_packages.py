"""Generate a package from a spec other than the committed one, import it, type-check it.

Used by the tests that prove the generator on specs it was not written against: a copy of
``spec/chat.yaml`` with the issue's two methods added, and the second spec of another domain.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from codegen.checks import check_spec
from codegen.loader import load_spec
from codegen.render import HAND_WRITTEN, package_dir, render_all

__all__ = [
    "ISSUE_METHODS",
    "ROOT",
    "generate",
    "load_package",
    "mypy_strict",
    "spec_with_issue_methods",
]

ROOT = Path(__file__).resolve().parents[2]

ISSUE_METHODS = """\
get_address:
  summary: Return one address of the directory.
  operation: getAddress
  params:
    address_id: {type: string, min_length: 1, description: The address's id.}
list_addresses:
  summary: List the address directory.
  operation: listAddresses
  params:
    page_size: {type: integer, default: 10, minimum: 1, maximum: 1000, description: Addresses per page.}
"""  # noqa: E501
"""The two methods of the issue, word for word, as they go under a ``methods:`` key."""


def _indented(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line if line.strip() else line for line in text.splitlines(True))


def spec_with_issue_methods(spec: str) -> str:
    """Return ``spec`` with the issue's methods on the client, in the existing ``conversation``
    namespace and in a new ``directory`` namespace."""
    client = "client:\n  class_name: Client\n  methods:\n"
    namespaces = "namespaces:\n"
    conversation = "    call logs included.\n    methods:\n"
    assert spec.count(client) == 1
    assert spec.count(namespaces) == 1
    assert spec.count(conversation) == 1
    spec = spec.replace(conversation, conversation + _indented(ISSUE_METHODS, 6))
    directory = (
        "  directory:\n"
        "    class_name: DirectoryNamespace\n"
        "    description: The address directory, as client.directory.\n"
        "    methods:\n" + _indented(ISSUE_METHODS, 6)
    )
    spec = spec.replace(namespaces, namespaces + directory)
    return spec.replace(client, client + _indented(ISSUE_METHODS, 4))


def generate(spec: Path, out: Path) -> Path:
    """Check ``spec``, render it, write its files under ``out``; return the package directory.

    Nothing is edited after generation: what the generator writes, with the package's
    hand-written ``lib/`` beside it, is what gets imported and type-checked.
    """
    located = load_spec(spec)
    assert check_spec(located) == [], check_spec(located)
    for path, text in render_all(located.data, ROOT, spec.name).items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    package = package_dir(located.data)
    lib = ROOT / package / HAND_WRITTEN  # the package's hand-written part goes along as it is
    if lib.is_dir():
        shutil.copytree(
            lib, out / package / HAND_WRITTEN, ignore=shutil.ignore_patterns("__pycache__")
        )
    return out / package


def load_package(alias: str, package: Path) -> ModuleType:
    """Import the generated package at ``package`` under the name ``alias``."""
    spec = importlib.util.spec_from_file_location(
        alias, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def mypy_strict(paths: list[Path], search: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run ``mypy --strict`` on ``paths`` with ``search`` first on the module path."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "generated-packages"),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"MYPYPATH": ":".join(map(str, search)), "PATH": str(Path(sys.executable).parent)},
        check=False,
    )
