"""The bus between server instances: committed positions, nothing else.

After a message commits, the instance that stored it publishes its position ``(group_id, seq)``
(see :mod:`~fabric_chat_server.store`); every other instance hears it and reads what it must
deliver from the store (as Centrifugo's PostgreSQL broker and Synapse's workers do). A bus
carries no message text, so a position that is lost or arrives twice costs a delay or a
duplicate read, never a lost or doubled event: each session delivers ``seq`` in order and reads
any gap back from the store (:class:`~fabric_chat_server.hub.LiveSession`).

A :class:`Bus` says when what it heard may be incomplete (it reconnected, or dropped positions
it had no room for) by asking for a *re-sync*: every live session then reads from the store
whatever lies beyond its positions. The PostgreSQL bus also asks for one periodically, so that
a notification lost without notice delays a delivery by at most that period.

Implementations:

- :class:`LocalBus`: one instance (SQLite, or PostgreSQL with ``--workers 1``); publishing is
  free and nothing is heard.
- :class:`~fabric_chat_server.bus_postgres.PostgresBus`: PostgreSQL ``LISTEN/NOTIFY``, no other
  component needed.
- Room for others: a NATS JetStream subject or a Redis stream per deployment carries the same
  positions (its own acks and replay would make the periodic re-sync rarer, not unnecessary).

Position ``(group_id, 0)`` is not a message: it says that the conversation's members changed
(someone joined), so that instances drop what they cached about them. Position
``(protocol, -1)`` names a session, not a conversation: the session was resumed on the instance
that published it, or no longer exists, so a socket holding it anywhere else closes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = [
    "MEMBERS_CHANGED",
    "SESSION_CLOSED",
    "Bus",
    "BusPosition",
    "LocalBus",
    "OnPositions",
    "OnResync",
]

BusPosition = tuple[str, int]
"""``(group_id, seq)`` of a committed message, ``(group_id, MEMBERS_CHANGED)`` or
``(protocol, SESSION_CLOSED)``."""

MEMBERS_CHANGED = 0
"""The ``seq`` of a position that says a conversation's members changed."""

SESSION_CLOSED = -1
"""The ``seq`` of a position ``(protocol, SESSION_CLOSED)``: close that session's socket here."""

OnPositions = Callable[[Sequence[BusPosition]], None]
"""Called (on the event loop, without waiting) with positions published by other instances."""

OnResync = Callable[[], None]
"""Called when what was heard may be incomplete: every live session re-reads the store."""


class Bus(Protocol):
    """Carries committed positions from the instance that stored them to every other one."""

    async def start(self, on_positions: OnPositions, on_resync: OnResync) -> None:
        """Connect, and call ``on_positions`` with what other instances publish from now on.

        Raises:
            OSError: The bus cannot be reached at start (a later loss is retried, not raised).
        """

    def publish(self, group_id: str, seq: int) -> None:
        """Publish a committed position; never waits (positions go out in batches)."""

    def problems(self) -> list[str]:
        """Return what is down (for ``/readyz``); empty when the bus works."""

    async def close(self) -> None:
        """Stop hearing and publishing; release every connection."""


class LocalBus:
    """The bus of a single instance: there is nobody to tell."""

    def __repr__(self) -> str:
        return "LocalBus()"

    async def start(self, on_positions: OnPositions, on_resync: OnResync) -> None:
        """Nothing to connect."""

    def publish(self, group_id: str, seq: int) -> None:
        """Nobody else listens: nothing to do."""

    def problems(self) -> list[str]:
        """A local bus is never down."""
        return []

    async def close(self) -> None:
        """Nothing to release."""
