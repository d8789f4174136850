"""The default :class:`~fabric_chat_server.store.Store`: one SQLite file through aiosqlite.

Each query is one trip to aiosqlite's worker thread, so the rows that rarely change (projects,
subscribers, addresses, conversations, members) are cached in memory and updated by the store's
own writes; a send then costs two trips (the insert and its commit) and a history page one.
The store must therefore be the only writer of its file (one server per database).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from ._sqlite_logging import hide_query_parameters
from ._sqlite_rows import (
    ADDRESS_COLUMNS,
    CONVERSATION_COLUMNS,
    LISTS,
    MESSAGE_COLUMNS,
    ROW_TO_RECORD,
    SCHEMA,
    TABLES,
    address_row,
    conversation_row,
    encode_json,
    message_row,
)
from .store import (
    SNAPSHOT_LISTS,
    AddressRecord,
    ConversationRecord,
    Direction,
    ListKind,
    MessageRecord,
    Position,
    ProjectRecord,
    SubscriberRecord,
)

__all__ = ["SqliteStore"]

logger = logging.getLogger(__name__)

hide_query_parameters()

_K = TypeVar("_K")
_V = TypeVar("_V")
_MAX_CACHED = 50_000  # entries per cache; a full cache is emptied and refilled on demand


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    if len(cache) >= _MAX_CACHED and key not in cache:
        cache.clear()
    cache[key] = value
    return value


class SqliteStore:
    """A :class:`~fabric_chat_server.store.Store` in one SQLite file (WAL mode).

    Writes are serialized by one lock, so each is atomic and ``ts`` values grow strictly.

    Args:
        path: The database file; created when missing.
    """

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._last_ts = 0.0
        self._projects: dict[str, ProjectRecord] = {}
        self._subscribers: dict[str, SubscriberRecord] = {}
        self._addresses_of: dict[str, list[AddressRecord]] = {}
        self._addresses: dict[str, AddressRecord] = {}
        self._conversations: dict[str, ConversationRecord | None] = {}  # None: known absent
        self._pairs: dict[tuple[str, str], str] = {}  # (project id, pair key) -> group id
        self._members: dict[str, list[tuple[str, str]]] = {}
        self._member_ids: dict[str, frozenset[str]] = {}

    def __repr__(self) -> str:
        return f"SqliteStore({str(self._path)!r})"

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        """Open the file, switch to WAL mode and create the schema when missing."""
        self._db = await aiosqlite.connect(self._path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.executescript(SCHEMA)
        await self._db.commit()
        rows = await self._db.execute_fetchall("SELECT max(ts) FROM messages")
        self._last_ts = next(iter(rows))[0] or 0.0
        logger.debug("opened %s", self._path)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        # One trip to aiosqlite's thread (execute + fetchone + close would be three).
        rows = await self._conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def _all(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def get_setting(self, key: str) -> str | None:
        """Return a stored setting, or ``None``."""
        row = await self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_setting(self, key: str, value: str) -> None:
        """Store a setting, replacing any earlier value."""
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
            await self._conn.commit()

    async def put_project(self, project_id: str, token_hash: str) -> ProjectRecord:
        """Create the project, or replace its token hash."""
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO projects (id, token_hash, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash",
                (project_id, token_hash, time.time()),
            )
            await self._conn.commit()
        self._projects.pop(project_id, None)
        project = await self.get_project(project_id)
        assert project is not None
        return project

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        """Return a project by id, or ``None``."""
        cached = self._projects.get(project_id)
        if cached is not None:
            return cached
        row = await self._one(
            "SELECT id, token_hash, created_at FROM projects WHERE id = ?", (project_id,)
        )
        if row is None:
            return None
        project = ProjectRecord(id=row[0], token_hash=row[1], created_at=row[2])
        return _remember(self._projects, project_id, project)

    async def first_project(self) -> ProjectRecord | None:
        """Return the oldest project, or ``None``."""
        row = await self._one(
            "SELECT id, token_hash, created_at FROM projects ORDER BY created_at, id LIMIT 1", ()
        )
        return (
            None if row is None else ProjectRecord(id=row[0], token_hash=row[1], created_at=row[2])
        )

    async def ensure_subscriber(
        self, project_id: str, reference: str, display_name: str | None, email: str | None = None
    ) -> tuple[SubscriberRecord, AddressRecord]:
        """Return the subscriber ``reference`` and its own address, creating both when new."""
        async with self._lock:
            row = await self._one(
                "SELECT id FROM subscribers WHERE project_id = ? AND reference = ?",
                (project_id, reference),
            )
            now = time.time()
            if row is None:
                subscriber_id = str(uuid.uuid4())
                await self._conn.execute(
                    "INSERT INTO subscribers (id, project_id, reference, display_name, email, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (subscriber_id, project_id, reference, display_name, email, now),
                )
                await self._conn.execute(
                    "INSERT INTO addresses (id, project_id, subscriber_id, name, display_name, "
                    "type, created_at) VALUES (?, ?, ?, ?, ?, 'subscriber', ?)",
                    (
                        str(uuid.uuid4()),
                        project_id,
                        subscriber_id,
                        reference,
                        display_name or reference,
                        now,
                    ),
                )
            else:
                subscriber_id = row[0]
                if email is not None:
                    await self._conn.execute(
                        "UPDATE subscribers SET email = ? WHERE id = ?", (email, subscriber_id)
                    )
                if display_name is not None:
                    await self._conn.execute(
                        "UPDATE subscribers SET display_name = ? WHERE id = ?",
                        (display_name, subscriber_id),
                    )
                    await self._conn.execute(
                        "UPDATE addresses SET display_name = ? WHERE subscriber_id = ? "
                        "AND type = 'subscriber'",
                        (display_name, subscriber_id),
                    )
            await self._conn.commit()
        self._subscribers.pop(subscriber_id, None)
        for address in self._addresses_of.pop(subscriber_id, ()):
            self._addresses.pop(address.id, None)
        subscriber = await self.get_subscriber(subscriber_id)
        addresses = await self.subscriber_addresses(subscriber_id)
        assert subscriber is not None
        assert addresses
        return subscriber, addresses[0]

    async def get_subscriber(self, subscriber_id: str) -> SubscriberRecord | None:
        """Return a subscriber by id, or ``None``."""
        cached = self._subscribers.get(subscriber_id)
        if cached is not None:
            return cached
        row = await self._one(
            "SELECT id, project_id, reference, display_name, email, created_at FROM subscribers "
            "WHERE id = ?",
            (subscriber_id,),
        )
        if row is None:
            return None
        subscriber = SubscriberRecord(
            id=row[0],
            project_id=row[1],
            reference=row[2],
            display_name=row[3],
            email=row[4],
            created_at=row[5],
        )
        return _remember(self._subscribers, subscriber_id, subscriber)

    async def subscriber_addresses(self, subscriber_id: str) -> list[AddressRecord]:
        """Return a subscriber's addresses, oldest (its own) first."""
        cached = self._addresses_of.get(subscriber_id)
        if cached is not None:
            return list(cached)
        rows = await self._all(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.subscriber_id = ? "
            "ORDER BY a.created_at, a.id",
            (subscriber_id,),
        )
        addresses = [address_row(row) for row in rows]
        if addresses:
            _remember(self._addresses_of, subscriber_id, addresses)
        return list(addresses)

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
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO addresses (id, project_id, subscriber_id, name, display_name, type, "
                "created_at, cover_url, preview_url) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (
                    str(uuid.uuid4()),
                    project_id,
                    name,
                    display_name or name,
                    type,
                    time.time(),
                    cover_url,
                    preview_url,
                ),
            )
            await self._conn.commit()
        row = await self._one(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = ? AND a.name = ? "
            "AND a.type <> 'subscriber'",
            (project_id, name),
        )
        return address_row(row)

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None:
        """Return an address of the project, or ``None``."""
        cached = self._addresses.get(address_id)
        if cached is None:
            row = await self._one(
                f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.id = ?", (address_id,)
            )
            if row is None:
                return None
            cached = _remember(self._addresses, address_id, address_row(row))
        return cached if cached.project_id == project_id else None

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id, or ``None``."""
        if group_id in self._conversations:
            return self._conversations[group_id]
        row = await self._one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.group_id = ?", (group_id,)
        )
        conversation = None if row is None else conversation_row(row)
        return _remember(self._conversations, group_id, conversation)

    async def find_conversation(self, project_id: str, key: str) -> ConversationRecord | None:
        """Return the conversation with this pair key, or ``None``."""
        group_id = self._pairs.get((project_id, key))
        if group_id is not None:
            return await self.get_conversation(group_id)
        row = await self._one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations c "
            "WHERE c.project_id = ? AND c.pair_key = ?",
            (project_id, key),
        )
        if row is None:
            return None
        conversation = conversation_row(row)
        _remember(self._pairs, (project_id, key), conversation.group_id)
        return _remember(self._conversations, conversation.group_id, conversation)

    async def open_conversation(
        self, conversation: ConversationRecord, key: str, members: list[tuple[str, str]]
    ) -> ConversationRecord:
        """Return the conversation with ``key`` (created when new) with ``members`` added."""
        known = self._pairs.get((conversation.project_id, key))
        if known is not None:
            stored = await self.get_conversation(known)
            present = await self._member_set(known)
            if stored is not None and all(member in present for member, _ in members):
                return stored  # already there and every member joined: nothing to write
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO conversations (group_id, project_id, pair_key, kind, address_a, "
                "address_b, name, metadata, created_at, last_message_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
                (
                    conversation.group_id,
                    conversation.project_id,
                    key,
                    conversation.kind,
                    conversation.address_a,
                    conversation.address_b,
                    conversation.name,
                    encode_json(conversation.metadata).decode(),
                    conversation.created_at,
                ),
            )
            row = await self._one(
                "SELECT group_id FROM conversations WHERE project_id = ? AND pair_key = ?",
                (conversation.project_id, key),
            )
            group_id = row[0]
            now = time.time()
            await self._conn.executemany(
                "INSERT INTO members (group_id, subscriber_id, address_id, joined_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (group_id, subscriber_id, address_id, now)
                    for subscriber_id, address_id in members
                ],
            )
            await self._conn.commit()
        self._conversations.pop(group_id, None)
        self._members.pop(group_id, None)
        self._member_ids.pop(group_id, None)
        _remember(self._pairs, (conversation.project_id, key), group_id)
        stored = await self.get_conversation(group_id)
        assert stored is not None
        return stored

    async def is_member(self, group_id: str, subscriber_id: str) -> bool:
        """Say whether the subscriber belongs to the conversation."""
        return subscriber_id in await self._member_set(group_id)

    async def _member_set(self, group_id: str) -> frozenset[str]:
        cached = self._member_ids.get(group_id)
        if cached is None:
            members = await self.members(group_id)
            cached = _remember(self._member_ids, group_id, frozenset(s for s, _ in members))
        return cached

    async def members(self, group_id: str) -> list[tuple[str, str]]:
        """Return ``(subscriber id, address id)`` of every member."""
        cached = self._members.get(group_id)
        if cached is None:
            rows = await self._all(
                "SELECT subscriber_id, address_id FROM members WHERE group_id = ? "
                "ORDER BY joined_at",
                (group_id,),
            )
            cached = _remember(self._members, group_id, [(row[0], row[1]) for row in rows])
        return list(cached)

    async def _message_by_id(self, message_id: str) -> MessageRecord | None:
        row = await self._one(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)
        )
        return None if row is None else message_row(row)

    async def insert_message(
        self, message: MessageRecord, idempotency: tuple[str, str] | None
    ) -> tuple[MessageRecord, bool]:
        """Store a message with a fresh, strictly growing ``ts`` (or replay an idempotent one)."""
        async with self._lock:
            if idempotency is not None:
                row = await self._one(
                    "SELECT message_id FROM idempotency_keys WHERE subscriber_id = ? AND key = ?",
                    idempotency,
                )
                if row is not None:
                    earlier = await self._message_by_id(row[0])
                    if earlier is not None:
                        return earlier, False
            ts = max(time.time(), self._last_ts + 1e-6)
            stored = msgspec.structs.replace(message, ts=ts)
            await self._conn.execute(
                "INSERT INTO messages (id, group_id, from_address_id, subscriber_id, user_name, "
                "ts, type, subtype, kind, text, metadata, details, hidden) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.id,
                    stored.group_id,
                    stored.from_address_id,
                    stored.subscriber_id,
                    stored.user_name,
                    stored.ts,
                    stored.type,
                    stored.subtype,
                    stored.kind,
                    stored.text,
                    encode_json(stored.metadata).decode(),
                    encode_json(stored.details).decode(),
                    int(stored.hidden),
                ),
            )
            # The trigger messages_touch_conversation moves the conversation's last_message_at.
            if idempotency is not None:
                await self._conn.execute(
                    "INSERT INTO idempotency_keys (subscriber_id, key, message_id, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (*idempotency, stored.id, ts),
                )
            await self._conn.commit()
            self._last_ts = ts
            cached = self._conversations.get(stored.group_id)
            if cached is not None:
                self._conversations[stored.group_id] = msgspec.structs.replace(
                    cached, last_message_at=ts
                )
        return stored, True

    async def snapshot(self) -> float:
        """Return the ts of the last stored message: every later one has a larger ts."""
        return self._last_ts

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
        """Return up to ``limit`` items beyond ``position`` in ``direction``, newest first."""
        base, sort, ident = LISTS[kind]
        params: tuple[Any, ...] = (scope,)
        if kind in SNAPSHOT_LISTS:
            params = (self._last_ts if as_of is None else as_of, scope)
        sql = base
        if position is not None:
            op = "<" if direction == "older" else ">"
            sql += f" AND ({sort}, {ident}) {op} (?, ?)"
            params += position
        order = "DESC" if direction == "older" else "ASC"
        sql += f" ORDER BY {sort} {order}, {ident} {order} LIMIT ?"
        rows = await self._all(sql, (*params, limit))
        if direction == "newer":
            rows.reverse()
        convert = ROW_TO_RECORD[kind]
        return [convert(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        """Return the number of rows of each table."""
        result: dict[str, int] = {}
        for table in TABLES:
            row = await self._one(f"SELECT count(*) FROM {table}", ())
            result[table] = int(row[0])
        return result
