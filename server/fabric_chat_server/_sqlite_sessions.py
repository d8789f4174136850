"""The sessions half of :class:`~fabric_chat_server.sqlite_store.SqliteStore`.

A session is a row of ``sessions`` plus, per conversation, the last ``seq`` its client acked
(``session_positions``). A conversation with no position row counts from the member's
``joined_seq``: a session made before the join has seen nothing of it before the join.
"""

from __future__ import annotations

import heapq
import itertools

from ._sqlite_directory import SqliteDirectory
from ._sqlite_rows import MESSAGE_COLUMNS, encode_json, message_row
from .store import MessageRecord, Positions, SessionRecord

__all__ = ["SqliteSessions"]

_SESSION_COLUMNS = (
    "protocol, subscriber_id, project_id, event_acks, authorization_state, created_at, seen_at"
)


class SqliteSessions(SqliteDirectory):
    """Sessions as positions, and reading messages back from positions."""

    async def create_session(self, session: SessionRecord, *, keep: int) -> list[str]:
        """Store a new session at the newest message of each conversation; keep ``keep``."""
        async with self._lock:
            await self._conn.execute(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    session.protocol,
                    session.subscriber_id,
                    session.project_id,
                    int(session.event_acks),
                    session.authorization_state,
                    session.created_at,
                    session.seen_at,
                ),
            )
            await self._conn.execute(
                "INSERT INTO session_positions (protocol, group_id, seq) "
                "SELECT ?, c.group_id, c.last_seq FROM members mb "
                "JOIN conversations c ON c.group_id = mb.group_id WHERE mb.subscriber_id = ?",
                (session.protocol, session.subscriber_id),
            )
            rows = await self._all(
                "SELECT protocol FROM sessions WHERE subscriber_id = ? AND protocol <> ? "
                "ORDER BY seen_at DESC, created_at DESC LIMIT -1 OFFSET ?",
                (session.subscriber_id, session.protocol, max(0, keep - 1)),
            )
            dropped = [str(row[0]) for row in rows]
            await self._delete_sessions(dropped)
            await self._conn.commit()
        return dropped

    async def _delete_sessions(self, protocols: list[str]) -> None:
        if protocols:
            await self._conn.execute(
                "DELETE FROM sessions WHERE protocol IN (SELECT value FROM json_each(?))",
                (encode_json(protocols).decode(),),
            )

    async def get_session(self, protocol: str) -> SessionRecord | None:
        """Return a session by protocol, or ``None``."""
        row = await self._one(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE protocol = ?", (protocol,)
        )
        if row is None:
            return None
        return SessionRecord(
            protocol=row[0],
            subscriber_id=row[1],
            project_id=row[2],
            event_acks=bool(row[3]),
            authorization_state=row[4],
            created_at=row[5],
            seen_at=row[6],
        )

    async def session_positions(self, protocol: str, subscriber_id: str) -> Positions:
        """Return where the session stands in each of its subscriber's conversations."""
        rows = await self._all(
            "SELECT mb.group_id, coalesce(p.seq, mb.joined_seq) FROM members mb "
            "LEFT JOIN session_positions p ON p.protocol = ? AND p.group_id = mb.group_id "
            "WHERE mb.subscriber_id = ?",
            (protocol, subscriber_id),
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def backlog(self, protocol: str, subscriber_id: str) -> int:
        """Return how many messages the session has not acked."""
        row = await self._one(
            "SELECT coalesce(sum(max(0, c.last_seq - coalesce(p.seq, mb.joined_seq))), 0) "
            "FROM members mb JOIN conversations c ON c.group_id = mb.group_id "
            "LEFT JOIN session_positions p ON p.protocol = ? AND p.group_id = mb.group_id "
            "WHERE mb.subscriber_id = ?",
            (protocol, subscriber_id),
        )
        return int(row[0])

    async def messages_after(
        self, subscriber_id: str, positions: Positions, limit: int
    ) -> list[MessageRecord]:
        """Return up to ``limit`` messages beyond ``positions``, in commit order.

        One query finds the conversations with messages beyond their position; each is then
        read by an index range (``group_id``, ``seq``), and the reads are merged by ``ts``.
        """
        behind = await self._all(
            "SELECT mb.group_id, coalesce(j.value, mb.joined_seq) FROM members mb "
            "JOIN conversations c ON c.group_id = mb.group_id "
            "LEFT JOIN json_each(?) j ON j.key = mb.group_id "
            "WHERE mb.subscriber_id = ? AND c.last_seq > coalesce(j.value, mb.joined_seq)",
            (encode_json(positions).decode(), subscriber_id),
        )
        reads: list[list[MessageRecord]] = []
        for group_id, after in behind:
            rows = await self._all(
                f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.group_id = ? AND m.seq > ? "
                "ORDER BY m.seq LIMIT ?",
                (group_id, after, limit),
            )
            reads.append([message_row(row) for row in rows])
        merged = heapq.merge(*reads, key=lambda record: (record.ts, record.id))
        return list(itertools.islice(merged, limit))

    async def save_positions(self, positions: dict[str, Positions], seen_at: float) -> None:
        """Move sessions forward (never back) and mark them seen, in one transaction."""
        if not positions:
            return
        moves = [
            (protocol, group_id, seq)
            for protocol, stands in positions.items()
            for group_id, seq in stands.items()
        ]
        async with self._lock:
            await self._conn.execute(
                "UPDATE sessions SET seen_at = max(seen_at, ?) "
                "WHERE protocol IN (SELECT value FROM json_each(?))",
                (seen_at, encode_json(list(positions)).decode()),
            )
            if moves:
                await self._conn.executemany(
                    "INSERT INTO session_positions (protocol, group_id, seq) "
                    "SELECT ?1, ?2, ?3 WHERE EXISTS "
                    "(SELECT 1 FROM sessions WHERE protocol = ?1) "
                    "ON CONFLICT (protocol, group_id) DO UPDATE "
                    "SET seq = max(seq, excluded.seq)",
                    moves,
                )
            await self._conn.commit()

    async def drop_sessions(self, protocols: list[str]) -> None:
        """Forget sessions and their positions."""
        if not protocols:
            return
        async with self._lock:
            await self._delete_sessions(protocols)
            await self._conn.commit()

    async def expire_idempotency_keys(self, created_before: float) -> int:
        """Forget the idempotency keys created before ``created_before``; return how many."""
        async with self._lock:
            cursor = await self._conn.execute(
                "DELETE FROM idempotency_keys WHERE created_at < ?", (created_before,)
            )
            await self._conn.commit()
        return max(0, cursor.rowcount)

    async def expire_sessions(self, seen_before: float) -> int:
        """Forget every session last seen before ``seen_before``."""
        async with self._lock:
            cursor = await self._conn.execute(
                "DELETE FROM sessions WHERE seen_at < ?", (seen_before,)
            )
            await self._conn.commit()
        return max(0, cursor.rowcount)
