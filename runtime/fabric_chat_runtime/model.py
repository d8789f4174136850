"""The base of every generated model: ``to_dict()`` and ``to_json()``.

``json.dumps(message)`` cannot encode a msgspec struct; ``message.to_dict()`` is the plain
``dict`` of it (what the wire carries: fields left at their default are left out where the
model says so) and ``message.to_json()`` its JSON text.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Model"]


class Model(msgspec.Struct, kw_only=True):
    """A msgspec struct that converts itself to plain data."""

    def to_dict(self) -> dict[str, Any]:
        """Return the model as a ``dict`` of plain values (``json.dumps`` takes it)."""
        value: dict[str, Any] = msgspec.to_builtins(self)
        return value

    def to_json(self, *, indent: int = 0) -> str:
        """Return the model as JSON text; ``indent`` > 0 pretty-prints it."""
        data = msgspec.json.encode(self)
        if indent > 0:
            data = msgspec.json.format(data, indent=indent)
        return data.decode()
