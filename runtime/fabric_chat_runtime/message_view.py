"""Which messages of a feed a caller sees, how each is shown, and how they are ordered.

A history page, a backfill after a refused resume and the live routing of socket events all
ask the same :class:`FeedView`, so a rule of what a caller sees is written once. The runtime
knows only :data:`ALL_MESSAGES`; a package brings its own views (the chat package's
``ChatView``: chat messages only, shown under the address asked for).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import msgspec

__all__ = ["ALL_MESSAGES", "FeedKey", "FeedView", "message_position"]

T = TypeVar("T")


class FeedKey(msgspec.Struct):
    """What ordering and dedupe read of every message event: its id and time."""

    id: str
    ts: float = 0.0


def message_position(item: object) -> tuple[float, str]:
    """Return the ``(ts, id)`` that orders messages."""
    ts = getattr(item, "ts", 0.0)
    return (float(ts) if isinstance(ts, int | float) else 0.0, str(getattr(item, "id", "")))


class FeedView(Protocol):
    """Which messages one history call or subscription sees, and how each is shown."""

    def keeps(self, item: Any) -> bool:
        """Whether a decoded message is in the view."""
        ...

    def shown(self, item: T) -> T:
        """Return the message as the view shows it."""
        ...

    def routes(self, payload: msgspec.Raw) -> bool:
        """Whether a live message event (its payload, not yet decoded) is in the view."""
        ...


class _AllMessages:
    """Every message, as it is."""

    def __repr__(self) -> str:
        return "ALL_MESSAGES"

    def keeps(self, item: Any) -> bool:
        return True

    def shown(self, item: T) -> T:
        return item

    def routes(self, payload: msgspec.Raw) -> bool:
        return True


ALL_MESSAGES: FeedView = _AllMessages()
"""The view that keeps every message as it is."""
