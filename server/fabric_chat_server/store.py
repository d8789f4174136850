"""The storage interface the routes use, and the records it holds.

Routes and the hub talk to a :class:`Store` only;
:class:`~fabric_chat_server.sqlite_store.SqliteStore` is the default implementation, and another
backend (PostgreSQL) implements the same protocol.
Lists are keyset-paged by a :data:`Position` ``(sort key, id)``, newest first.

Delivery works from positions, not frames:

- Each message has a ``seq`` within its conversation, assigned by the store in the transaction
  that stores it: 1, 2, 3... with no gap, in commit order (a PostgreSQL store takes it from
  ``UPDATE conversations SET last_seq = last_seq + 1 ... RETURNING last_seq``, whose row lock
  orders concurrent senders of one conversation; SQLite has one writer). ``ts`` stays, for
  display and for history pages. ``(group_id, seq)`` names a message, so a bus between server
  instances carries positions only and each instance reads the messages with :meth:`messages_at`
  (one read for a batch of positions).
- A session (what a ``protocol`` names) is a :class:`SessionRecord` plus its
  :data:`Positions`: per conversation, the last ``seq`` its client acked. A new session stands at
  the newest message of each of its subscriber's conversations; a conversation joined later
  starts at the ``seq`` it had at the join. Sessions live in the store, so a resume is answered
  on any instance, after a restart, with memory that does not grow with the events missed:
  :meth:`backlog` counts them (a difference of sequence numbers) and :meth:`messages_after`
  reads them back in bounded batches, in order.
- Inserts may be grouped: concurrent :meth:`insert_message` calls share one transaction and
  one sync, and each returns only once its message is committed.

A list whose order can change under a reader (a conversation moves to the top on each new
message) is read as of a snapshot (see :data:`SNAPSHOT_LISTS` and :meth:`Store.snapshot`), so a
walk through it neither skips nor repeats an item.

An implementation may cache what it reads (the SQLite one does), provided each of its own
writes updates the cache; it is then the only writer of its database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import msgspec

__all__ = [
    "AddressRecord",
    "ConversationRecord",
    "Direction",
    "ListKind",
    "MessageRecord",
    "NAMED_LIMIT",
    "Position",
    "Positions",
    "ProjectRecord",
    "SNAPSHOT_LISTS",
    "SessionRecord",
    "Store",
    "StoreUnavailableError",
    "SubscriberRecord",
]

Position = tuple[float, str]
"""Where an item sits in a list: its sort key (a Unix time) and its id."""

Positions = dict[str, int]
"""Where a session stands: group id -> the last ``seq`` of that conversation it has acked."""

Direction = Literal["older", "newer"]
ListKind = Literal["conversation_messages", "subscriber_messages", "conversations", "addresses"]

NAMED_LIMIT = 10
"""The most addresses of one name a lookup by name reads (there are at most two)."""

SNAPSHOT_LISTS: frozenset[str] = frozenset({"conversations"})
"""Lists read as of a snapshot: each conversation sorts by its last message at or before it.

Messages and addresses are only ever appended with growing sort keys, so they need none.
"""


class StoreUnavailableError(Exception):
    """The store cannot be reached now (its database is restarting or down): try again soon.

    The server answers 503 with ``Retry-After`` (not a 500: nothing is wrong with the request).
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
    seq: int = 0
    """Position in its conversation (1, 2, 3...), assigned by the store when it commits."""


class SessionRecord(msgspec.Struct, frozen=True):
    """A session: what a ``protocol`` names, kept in the store so that any instance resumes it.

    ``seen_at`` is when an instance last held it (refreshed while a socket is attached); a
    session unseen for longer than the resume window is gone.
    """

    protocol: str
    subscriber_id: str
    project_id: str
    event_acks: bool
    authorization_state: str
    created_at: float
    seen_at: float


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

    async def ensure_setting(self, key: str, value: str) -> str:
        """Store ``value`` unless the setting exists; return the stored value.

        Atomic: of N instances calling it at once on one database, all get the first value.
        """

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

    async def addresses_named(self, project_id: str, name: str) -> list[AddressRecord]:
        """Return the project's addresses called exactly ``name``: a shared one first.

        At most one shared address (room, app) has a name; subscribers' own addresses are
        named after their reference, unique too, so there are at most two (and at most
        :data:`NAMED_LIMIT` are read).
        """

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
        """Store a message, giving it the next ``seq`` of its conversation and a later ``ts``.

        With ``idempotency`` ``(subscriber id, key)`` seen before, store nothing and return the
        message stored then. Returns the stored message and whether it is new, once committed.
        """

    async def message_at(self, group_id: str, seq: int) -> MessageRecord | None:
        """Return the message at ``seq`` of the conversation, or ``None``."""

    async def messages_at(self, positions: Sequence[tuple[str, int]]) -> list[MessageRecord]:
        """Return the messages at these positions ``(group_id, seq)`` that exist, in one read.

        They come ordered by conversation, then ``seq``; a position named twice gives one
        message.
        """

    async def messages_after(
        self, subscriber_id: str, positions: Positions, limit: int
    ) -> list[MessageRecord]:
        """Return up to ``limit`` messages of the subscriber's conversations beyond ``positions``.

        A conversation missing from ``positions`` counts from the ``seq`` it had when the
        subscriber joined it. Each conversation's messages come in ``seq`` order; the
        conversations are interleaved in commit (``ts``) order.
        """

    async def expire_idempotency_keys(self, created_before: float) -> int:
        """Forget the idempotency keys created before ``created_before``; return how many.

        A send retried with a forgotten key makes a new message.
        """

    async def create_session(self, session: SessionRecord, *, keep: int) -> list[str]:
        """Store a new session standing at the newest message of each conversation.

        Then forget the subscriber's least recently seen sessions beyond ``keep`` (the new one
        is kept). Returns the protocols forgotten.
        """

    async def get_session(self, protocol: str) -> SessionRecord | None:
        """Return a session by protocol, or ``None``."""

    async def session_positions(self, protocol: str, subscriber_id: str) -> Positions:
        """Return where the session stands in each of its subscriber's conversations."""

    async def backlog(self, protocol: str, subscriber_id: str) -> int:
        """Return how many messages the session has not acked (what a resume would replay)."""

    async def save_positions(self, positions: dict[str, Positions], seen_at: float) -> None:
        """Move sessions forward (never back) and mark them seen, in one transaction.

        ``positions`` maps a protocol to its acked :data:`Positions`; a session with nothing
        new maps to ``{}`` to be marked seen only. Unknown protocols are ignored.
        """

    async def drop_sessions(self, protocols: list[str]) -> None:
        """Forget sessions and their positions."""

    async def expire_sessions(self, seen_before: float) -> int:
        """Forget every session last seen before ``seen_before``; return how many."""

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
