"""A small bounded cache whose entries expire, for rows another instance may change."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class TtlCache(Generic[_K, _V]):
    """At most ``size`` entries, each kept ``ttl`` seconds; a full cache is emptied.

    With N server instances on one database, a row one instance caches may be changed by
    another: the ``ttl`` bounds how stale a read can be. Only rows found are cached (an id
    asked for and missing may be created elsewhere the next moment).

    Args:
        ttl: Seconds an entry is served.
        size: Entries kept at most.
        clock: Monotonic clock, injectable for tests.
    """

    def __init__(
        self, ttl: float, size: int = 50_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: dict[_K, tuple[float, _V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _K) -> _V | None:
        """Return the entry, or ``None`` when missing or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: _K, value: _V) -> _V:
        """Remember ``value`` for ``ttl`` seconds and return it."""
        if len(self._entries) >= self.size and key not in self._entries:
            self._entries.clear()
        self._entries[key] = (self._clock() + self.ttl, value)
        return value

    def pop(self, key: _K) -> None:
        """Forget an entry (after a write of this instance)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
