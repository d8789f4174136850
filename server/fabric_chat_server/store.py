"""The storage interface the routes use, and the records it holds.

Routes and the hub talk to a :class:`Store` only;
:class:`~fabric_chat_server.sqlite_store.SqliteStore` is the default implementation, and another
backend (PostgreSQL) implements the same protocol.
Lists are keyset-paged by a :data:`Position` ``(sort key, id)``, newest first.

A list whose order can change under a reader (a conversation moves to the top on each new
message) is read as of a snapshot (see :data:`SNAPSHOT_LISTS` and :meth:`Store.snapshot`), so a
walk through it neither skips nor repeats an item.

An implementation may cache what it reads (the SQLite one does), provided each of its own
writes updates the cache; it is then the only writer of its database.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

__all__ = [
    "AddressRecord",
    "ConversationRecord",
    "Direction",
    "ListKind",
    "MessageRecord",
    "Position",
    "ProjectRecord",
    "SNAPSHOT_LISTS",
    "Store",
    "SubscriberRecord",
]

Position = tuple[float, str]
"""Where an item sits in a list: its sort key (a Unix time) and its id."""

Direction = Literal["older", "newer"]
ListKind = Literal["conversation_messages", "subscriber_messages", "conversations", "addresses"]

SNAPSHOT_LISTS: frozenset[str] = frozenset({"conversations"})
"""Lists read as of a snapshot: each conversation sorts by its last message at or before it.

Messages and addresses are only ever appended with growing sort keys, so they need none.
"""


class ProjectRecord(msgspec.Struct, frozen=True):
    """A project: owner of subscribers and addresses."""

    id: str
    token_hash: str
    created_at: float


class SubscriberRecord(msgspec.Struct, frozen=True):
    """A subscriber of a project."""

    id: str
    project_id: str
    reference: str
    display_name: str | None
    email: str | None
    created_at: float


class AddressRecord(msgspec.Struct, frozen=True):
    """A fabric address: a subscriber's own, or a room."""

    id: str
    project_id: str
    subscriber_id: str | None
    name: str
    display_name: str
    type: str
    created_at: float
    locked: bool = False
    cover_url: str | None = None
    preview_url: str | None = None


class ConversationRecord(msgspec.Struct, frozen=True):
    """A conversation (group): a 1:1 between two addresses, or a room's."""

    group_id: str
    project_id: str
    kind: Literal["direct", "room"]
    address_a: str
    address_b: str | None
    name: str
    created_at: float
    last_message_at: float | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class MessageRecord(msgspec.Struct, frozen=True):
    """A stored conversation message."""

    id: str
    group_id: str
    from_address_id: str
    subscriber_id: str
    user_name: str | None
    ts: float
    type: str
    subtype: str
    kind: str | None
    text: str | None
    metadata: dict[str, Any]
    details: dict[str, Any]
    hidden: bool = False


class Store(Protocol):
    """Everything the server keeps. Every method is a coroutine and safe to call concurrently."""

    async def open(self) -> None:
        """Create the schema when missing and get ready for calls."""

    async def close(self) -> None:
        """Release every resource; the store is unusable afterwards."""

    async def get_setting(self, key: str) -> str | None:
        """Return a stored setting, or ``None``."""

    async def set_setting(self, key: str, value: str) -> None:
        """Store a setting, replacing any earlier value."""

    async def put_project(self, project_id: str, token_hash: str) -> ProjectRecord:
        """Create the project, or replace its token hash."""

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        """Return a project by id, or ``None``."""

    async def first_project(self) -> ProjectRecord | None:
        """Return the oldest project, or ``None`` when there is none."""

    async def ensure_subscriber(
        self, project_id: str, reference: str, display_name: str | None, email: str | None = None
    ) -> tuple[SubscriberRecord, AddressRecord]:
        """Return the subscriber called ``reference`` and its own address, creating both when new.

        A given ``display_name`` or ``email`` replaces the stored one.
        """

    async def get_subscriber(self, subscriber_id: str) -> SubscriberRecord | None:
        """Return a subscriber by id, or ``None``."""

    async def subscriber_addresses(self, subscriber_id: str) -> list[AddressRecord]:
        """Return a subscriber's addresses, its own ("from") address first."""

    async def ensure_address(
        self,
        project_id: str,
        name: str,
        *,
        display_name: str | None,
        type: str,
        cover_url: str | None = None,
        preview_url: str | None = None,
    ) -> AddressRecord:
        """Return the shared (room, app) address called ``name``, creating it when new."""

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None:
        """Return an address of the project, or ``None``."""

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id, or ``None``."""

    async def find_conversation(self, project_id: str, key: str) -> ConversationRecord | None:
        """Return the conversation with this pair key (see :meth:`open_conversation`)."""

    async def open_conversation(
        self,
        conversation: ConversationRecord,
        key: str,
        members: list[tuple[str, str]],
    ) -> ConversationRecord:
        """Return the conversation with ``key``, creating it from ``conversation`` when new.

        Each ``(subscriber id, address id)`` of ``members`` becomes a member (no-op when it is).
        """

    async def is_member(self, group_id: str, subscriber_id: str) -> bool:
        """Say whether the subscriber belongs to the conversation."""

    async def members(self, group_id: str) -> list[tuple[str, str]]:
        """Return ``(subscriber id, address id)`` of every member of the conversation."""

    async def insert_message(
        self, message: MessageRecord, idempotency: tuple[str, str] | None
    ) -> tuple[MessageRecord, bool]:
        """Store a message, giving it a ``ts`` later than every stored one.

        With ``idempotency`` ``(subscriber id, key)`` seen before, store nothing and return the
        message stored then. Returns the stored message and whether it is new.
        """

    async def snapshot(self) -> float:
        """Return a point in the order of writes: every message stored later has a larger ts."""

    async def list_page(
        self,
        kind: ListKind,
        scope: str,
        position: Position | None,
        direction: Direction,
        limit: int,
        *,
        as_of: float | None = None,
    ) -> list[Any]:
        """Return up to ``limit`` items beyond ``position`` (exclusive), newest first.

        ``scope`` is the group id, subscriber id, subscriber id or project id for the
        ``kind``; records are :class:`MessageRecord`, :class:`ConversationRecord` or
        :class:`AddressRecord`. ``direction`` ``"older"`` starts at the newest item when
        ``position`` is ``None``, ``"newer"`` returns the ``limit`` items nearest ``position``.
        For a list of :data:`SNAPSHOT_LISTS`, ``as_of`` (a :meth:`snapshot`) fixes the order:
        each conversation sorts by, and reports as ``last_message_at``, its last message at or
        before ``as_of``.
        """

    async def counts(self) -> dict[str, int]:
        """Return the number of rows of each table (for checks that nothing changed)."""
