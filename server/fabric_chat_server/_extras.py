"""Say, in one line, which extra to install when an optional dependency is missing.

``pip install fabric-chat`` installs the SDK alone (aiohttp and msgspec). The command line
client needs the ``cli`` extra, the local server (``fabric-chat serve``, :class:`LocalServer`)
the ``server`` extra. This module imports nothing optional itself.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtraError", "missing_extra_message", "require_extra"]

#: The importable modules each extra brings, as ``pip install 'fabric-chat[EXTRA]'`` does.
EXTRAS: dict[str, tuple[str, ...]] = {
    "cli": ("click", "rich"),
    "server": ("jwt", "aiosqlite", "click", "rich"),
    "postgres": ("jwt", "aiosqlite", "click", "rich", "asyncpg"),
}


class MissingExtraError(ModuleNotFoundError):
    """An optional dependency of fabric-chat is not installed; the message names the extra."""


def missing_extra_message(extra: str, what: str) -> str:
    """Return ``WHAT needs the 'EXTRA' extra: pip install 'fabric-chat[EXTRA]'``."""
    return f"{what} needs the '{extra}' extra: pip install 'fabric-chat[{extra}]'"


def require_extra(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` can be imported.

    Raises:
        MissingExtraError: One of them is missing; the message is one line naming the extra.
    """
    for module in EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(missing_extra_message(extra, what), name=module)
