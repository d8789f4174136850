"""The default :class:`~fabric_chat_server.store.Store`: one SQLite file through aiosqlite.

Each query is one trip to aiosqlite's worker thread, so the rows that rarely change (projects,
subscribers, addresses, conversations, members) are cached in memory and updated by the store's
own writes; a send then costs two trips (the insert and its commit) and a history page one.
The store must therefore be the only writer of its file (one server per database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec

from ._sqlite_commit import GroupResult, write_group
from ._sqlite_directory import PRAGMAS, remember
from ._sqlite_rows import (
    CONVERSATION_COLUMNS,
    LISTS,
    MESSAGE_COLUMNS,
    ROW_TO_RECORD,
    conversation_row,
    encode_json,
    message_row,
)
from ._sqlite_sessions import SqliteSessions
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


class _Pending(msgspec.Struct):
    message: MessageRecord
    idempotency: tuple[str, str] | None
    done: asyncio.Future[tuple[MessageRecord, bool]]


def _settle(batch: list[_Pending], results: list[tuple[MessageRecord, bool]]) -> None:
    for item, result in zip(batch, results, strict=True):
        if not item.done.done():
            item.done.set_result(result)


def _write_in_thread(
    conn: aiosqlite.Connection,
    batch: list[tuple[MessageRecord, tuple[str, str] | None]],
    known_seq: dict[str, int],
    last_ts: float,
) -> GroupResult:
    return write_group(conn._conn, batch, dict(known_seq), last_ts)


_MAX_GROUP = 256  # messages committed in one transaction at most
_POSITIONS_PER_READ = 256  # positions looked up in one statement by messages_at
_MAX_SEQ_CACHED = 50_000


_MAX_ABSENT = 4_096
"""Unknown group ids remembered as absent; a full set is emptied and refilled on demand."""


class SqliteStore(SqliteSessions):
    """A :class:`~fabric_chat_server.store.Store` in one SQLite file (WAL mode).

    Writes are serialized by one lock, so each is atomic and ``ts`` and each conversation's
    ``seq`` grow strictly. Messages are written by one writer task that commits whatever
    concurrent senders queued in one transaction (group commit).

    Args:
        path: The database file; created when missing.
    """

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._last_ts = 0.0
        self._conversations: dict[str, ConversationRecord] = {}
        # Ids asked for and not found (address ids in the address dialect, mostly): a small
        # cache of its own, so that callers choosing ids can neither grow memory past it nor
        # push the known conversations out. The gate keeps every id within id_length.
        self._absent: dict[str, bool] = {}
        self._pairs: dict[tuple[str, str], str] = {}  # (project id, pair key) -> group id
        self._members: dict[str, list[tuple[str, str]]] = {}
        self._member_ids: dict[str, frozenset[str]] = {}
        self._last_seq: dict[str, int] = {}  # group id -> its last committed seq
        self._inbox: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the file (see ``SqliteDirectory.open``), find the newest ``ts``, start writing."""
        await super().open()
        rows = await self._conn.execute_fetchall("SELECT max(ts) FROM messages")
        self._last_ts = next(iter(rows))[0] or 0.0
        self._writer = asyncio.get_running_loop().create_task(
            self._write_forever(), name="fabric-chat-store-writer"
        )

    async def close(self) -> None:
        """Stop the writer (failing what it had not committed) and close the file."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if not item.done.done():
                item.done.set_exception(RuntimeError("the store closed"))
        await super().close()

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id, or ``None``."""
        cached = self._conversations.get(group_id)
        if cached is not None:
            return cached
        if group_id in self._absent:
            return None
        row = await self._one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.group_id = ?", (group_id,)
        )
        if row is None:
            if len(self._absent) >= _MAX_ABSENT:
                self._absent.clear()
            self._absent[group_id] = True
            return None
        return remember(self._conversations, group_id, conversation_row(row))

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
                "INSERT INTO members (group_id, subscriber_id, address_id, joined_at, joined_seq) "
                "SELECT ?1, ?2, ?3, ?4, last_seq FROM conversations WHERE group_id = ?1 "
                "ON CONFLICT DO NOTHING",
                [
                    (group_id, subscriber_id, address_id, now)
                    for subscriber_id, address_id in members
                ],
            )
            await self._conn.commit()
        self._conversations.pop(group_id, None)
        self._absent.pop(group_id, None)
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

    async def insert_message(
        self, message: MessageRecord, idempotency: tuple[str, str] | None
    ) -> tuple[MessageRecord, bool]:
        """Store a message with the next ``seq`` and a fresh ``ts`` (or replay an idempotent one).

        Concurrent calls are committed together by the store's writer (one transaction, one
        sync); each returns once its own message is committed.
        """
        if self._writer is None:
            raise RuntimeError("the store is not open")
        done: asyncio.Future[tuple[MessageRecord, bool]] = (
            asyncio.get_running_loop().create_future()
        )
        self._inbox.put_nowait(_Pending(message, idempotency, done))
        return await done

    async def _write_forever(self) -> None:
        """Commit queued messages in groups, as long as the store is open."""
        while True:
            batch = [await self._inbox.get()]
            await asyncio.sleep(0)  # let the senders woken with this one queue theirs
            while len(batch) < _MAX_GROUP and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            batch = [item for item in batch if not item.done.done()]
            if not batch:
                continue
            try:
                async with self._lock:
                    results = await self._commit_group(batch)
            except sqlite3.IntegrityError:  # another writer moved a seq: reload it, try again
                try:
                    async with self._lock:
                        results = await self._commit_group(batch)
                except Exception as exc:
                    logger.warning("a group commit failed (%s); retrying one by one", exc)
                    await self._commit_each(batch)
                else:
                    _settle(batch, results)
            except Exception as exc:  # the group failed: commit each alone, to fail only its own
                logger.warning("a group commit failed (%s); retrying one by one", exc)
                await self._commit_each(batch)
            else:
                _settle(batch, results)

    async def _commit_each(self, batch: list[_Pending]) -> None:
        for item in batch:
            try:
                async with self._lock:
                    results = await self._commit_group([item])
            except Exception as single:
                if not item.done.done():
                    item.done.set_exception(single)
            else:
                _settle([item], results)

    async def _commit_group(self, batch: list[_Pending]) -> list[tuple[MessageRecord, bool]]:
        """Insert a group of messages in one transaction, one trip; return each one's outcome."""
        pairs = [(item.message, item.idempotency) for item in batch]
        if len(self._last_seq) > _MAX_SEQ_CACHED:
            self._last_seq.clear()
        try:
            # aiosqlite runs each call as one function in its thread (Connection._execute, the
            # primitive behind every aiosqlite method); the whole group is one such function.
            results, last_seq, last_ts = await self._conn._execute(  # type: ignore[no-untyped-call]
                _write_in_thread, self._conn, pairs, self._last_seq, self._last_ts
            )
        except BaseException:
            self._last_seq.clear()
            raise
        self._last_ts = last_ts
        self._last_seq.update(last_seq)
        for stored, created in results:
            cached = self._conversations.get(stored.group_id) if created else None
            if cached is not None:
                self._conversations[stored.group_id] = msgspec.structs.replace(
                    cached, last_message_at=stored.ts
                )
        return list(results)

    async def message_at(self, group_id: str, seq: int) -> MessageRecord | None:
        """Return the message at ``seq`` of the conversation, or ``None``."""
        row = await self._one(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.group_id = ? AND m.seq = ?",
            (group_id, seq),
        )
        return None if row is None else message_row(row)

    async def messages_at(self, positions: Sequence[tuple[str, int]]) -> list[MessageRecord]:
        """Return the messages at these positions that exist, by conversation and ``seq``."""
        records: list[MessageRecord] = []
        wanted = sorted(set(positions))
        for start in range(0, len(wanted), _POSITIONS_PER_READ):
            chunk = wanted[start : start + _POSITIONS_PER_READ]
            pairs = ", ".join("(?, ?)" for _ in chunk)
            rows = await self._all(
                f"WITH p(g, s) AS (VALUES {pairs}) SELECT {MESSAGE_COLUMNS} FROM p "
                "JOIN messages m ON m.group_id = p.g AND m.seq = p.s ORDER BY m.group_id, m.seq",
                tuple(value for position in chunk for value in position),
            )
            records.extend(message_row(row) for row in rows)
        return records

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
