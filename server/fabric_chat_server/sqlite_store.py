"""The default :class:`~fabric_chat_server.store.Store`: one SQLite file through aiosqlite.

Each query is one trip to aiosqlite's worker thread, so the rows that rarely change (projects,
subscribers, addresses, conversations, members) are cached in memory and updated by the store's
own writes; a send then costs two trips (the insert and its commit) and a history page one.
The store must therefore be the only writer of its file (one server per database).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import msgspec

from ._sqlite_directory import PRAGMAS, SqliteDirectory, remember
from ._sqlite_rows import (
    CONVERSATION_COLUMNS,
    LISTS,
    MESSAGE_COLUMNS,
    ROW_TO_RECORD,
    TABLES,
    conversation_row,
    encode_json,
    message_row,
)
from .store import (
    SNAPSHOT_LISTS,
    ConversationRecord,
    Direction,
    ListKind,
    MessageRecord,
    Position,
)

__all__ = ["PRAGMAS", "SqliteStore"]

logger = logging.getLogger(__name__)


class SqliteStore(SqliteDirectory):
    """A :class:`~fabric_chat_server.store.Store` in one SQLite file (WAL mode).

    Writes are serialized by one lock, so each is atomic and ``ts`` values grow strictly.

    Args:
        path: The database file; created when missing.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._last_ts = 0.0
        self._conversations: dict[str, ConversationRecord | None] = {}  # None: known absent
        self._pairs: dict[tuple[str, str], str] = {}  # (project id, pair key) -> group id
        self._members: dict[str, list[tuple[str, str]]] = {}
        self._member_ids: dict[str, frozenset[str]] = {}

    async def open(self) -> None:
        """Open the file (see :meth:`SqliteDirectory.open`) and find the newest ``ts``."""
        await super().open()
        rows = await self._conn.execute_fetchall("SELECT max(ts) FROM messages")
        self._last_ts = next(iter(rows))[0] or 0.0

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id, or ``None``."""
        if group_id in self._conversations:
            return self._conversations[group_id]
        row = await self._one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.group_id = ?", (group_id,)
        )
        conversation = None if row is None else conversation_row(row)
        return remember(self._conversations, group_id, conversation)

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
        remember(self._pairs, (project_id, key), conversation.group_id)
        return remember(self._conversations, conversation.group_id, conversation)

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
        remember(self._pairs, (conversation.project_id, key), group_id)
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
            cached = remember(self._member_ids, group_id, frozenset(s for s, _ in members))
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
            cached = remember(self._members, group_id, [(row[0], row[1]) for row in rows])
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
