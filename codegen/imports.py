"""Compute a generated module's imports from the names it uses.

Each name is found where it lives: a model in the package's ``models``, a typing name in the
standard library, anything else in the runtime (asked of the runtime itself, see
:mod:`codegen.runtime_api`). The lines come out in ruff's (isort's) sections and order, so that
ruff only formats the output.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable

from .ir import ImportIR, Imports
from .runtime_api import symbol_module

__all__ = ["ImportSet"]

_STDLIB = {
    "Any": "typing",
    "Self": "typing",
    "AsyncIterator": "collections.abc",
    "Callable": "collections.abc",
    "Iterator": "collections.abc",
    "Mapping": "collections.abc",
    "Sequence": "collections.abc",
    "dataclass": "dataclasses",
}
_THIRD_PARTY = {"Struct": "msgspec", "field": "msgspec"}


def _name_key(name: str) -> tuple[int, str]:
    """isort's ``order-by-type``: CONSTANTS, then Classes, then the rest, each sorted."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _module_key(module: str) -> tuple[str, str]:
    return (module.lower(), module)


class ImportSet:
    """The names one module uses, resolved to the modules that define them."""

    def __init__(self, models: Iterable[str], local: dict[str, str] | None = None) -> None:
        self._models = frozenset(models)
        self._local = dict(local or {})
        self._used: dict[str, set[str]] = defaultdict(set)
        self._reexported: dict[str, set[str]] = defaultdict(set)
        self.future = True

    def module_of(self, name: str) -> str:
        """Return the module ``name`` is imported from."""
        if name in self._local:
            return self._local[name]
        if name in self._models:
            return ".models"
        if name in _STDLIB:
            return _STDLIB[name]
        if name in _THIRD_PARTY:
            return _THIRD_PARTY[name]
        return symbol_module(name)

    def use(self, *names: str) -> None:
        """Record that the module uses ``names``."""
        for name in names:
            self._used[self.module_of(name)].add(name)

    def reexport(self, *names: str) -> None:
        """Record that the module re-exports ``names`` (``from m import X as X``)."""
        for name in names:
            self._reexported[self.module_of(name)].add(name)

    def imports(self) -> Imports:
        """Return the import lines, grouped into future, stdlib, third-party and local blocks."""
        groups: list[list[ImportIR]] = [[], [], [], []]
        if self.future and self._used:
            groups[0].append(ImportIR("__future__", ("annotations",)))
        for module in sorted(self._used.keys() | self._reexported.keys(), key=_module_key):
            section = self._section(module)
            if module in self._used:
                names = tuple(sorted(self._used[module], key=_name_key))
                groups[section].append(ImportIR(module, names))
            for name in sorted(self._reexported.get(module, ()), key=_name_key):
                groups[section].append(ImportIR(module, (name,), reexport=True))
        return tuple(tuple(group) for group in groups if group)

    @staticmethod
    def _section(module: str) -> int:
        if module.startswith("."):
            return 3
        if module.partition(".")[0] in sys.stdlib_module_names:
            return 1
        return 2
