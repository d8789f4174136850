"""The sessions half of :class:`~fabric_chat_server.postgres_store.PostgresStore`.

As in SQLite: a session is a row of ``sessions`` plus, per conversation, the last ``seq`` its
client acked (``session_positions``); a conversation with no position row counts from the
member's ``joined_seq``. Every instance reads and writes the same rows, so a resume is
answered on any of them. Reading a session's positions and saving them take the session row's
lock (``FOR UPDATE`` / ``UPDATE``), so a resume waits for a save under way on another instance.
"""

from __future__ import annotations

from typing import Any

from ._pg_schema import MESSAGE_COLUMNS
from ._sqlite_rows import encode_json, message_row
from .store import MessageRecord, Positions, SessionRecord

__all__ = ["PostgresSessions"]

_SESSION_COLUMNS = (
    "protocol, subscriber_id, project_id, event_acks, authorization_state, created_at, seen_at"
)

_POSITIONS = (
    "SELECT mb.group_id, greatest(coalesce(p.seq, mb.joined_seq), 0) FROM members mb "
    "LEFT JOIN session_positions p ON p.protocol = $1 AND p.group_id = mb.group_id "
    "WHERE mb.subscriber_id = $2"
)

# Every conversation of the subscriber with messages beyond its position; from each, the next
# messages by its (group_id, seq) index; all merged in commit (ts) order.
_AFTER = (
    f"SELECT {MESSAGE_COLUMNS} FROM members mb "
    "JOIN conversations c ON c.group_id = mb.group_id "
    "LEFT JOIN jsonb_each_text($1::jsonb) j ON j.key = mb.group_id "
    "CROSS JOIN LATERAL (SELECT * FROM messages x WHERE x.group_id = mb.group_id "
    "AND x.seq > coalesce(j.value::bigint, mb.joined_seq) ORDER BY x.seq LIMIT $3) m "
    "WHERE mb.subscriber_id = $2 AND c.last_seq > coalesce(j.value::bigint, mb.joined_seq) "
    "ORDER BY m.ts, m.id LIMIT $3"
)


class PostgresSessions:
    """Sessions as positions, and reading messages back from positions."""

    @property
    def pool(self) -> Any:
        raise NotImplementedError

    async def create_session(self, session: SessionRecord, *, keep: int) -> list[str]:
        """Store a new session at the newest message of each conversation; keep ``keep``."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                session.protocol,
                session.subscriber_id,
                session.project_id,
                session.event_acks,
                session.authorization_state,
                session.created_at,
                session.seen_at,
            )
            await conn.execute(
                "INSERT INTO session_positions (protocol, group_id, seq) "
                "SELECT $1, c.group_id, c.last_seq FROM members mb "
                "JOIN conversations c ON c.group_id = mb.group_id WHERE mb.subscriber_id = $2",
                session.protocol,
                session.subscriber_id,
            )
            rows = await conn.fetch(
                "DELETE FROM sessions WHERE protocol IN (SELECT protocol FROM sessions "
                "WHERE subscriber_id = $1 AND protocol <> $2 "
                "ORDER BY seen_at DESC, created_at DESC OFFSET $3) RETURNING protocol",
                session.subscriber_id,
                session.protocol,
                max(0, keep - 1),
            )
        return [str(row[0]) for row in rows]

    async def get_session(self, protocol: str) -> SessionRecord | None:
        """Return a session by protocol, or ``None``."""
        row = await self.pool.fetchrow(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE protocol = $1", protocol
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
        """Return where the session stands in each of its subscriber's conversations.

        The session row is locked while they are read, so a save of its positions under way
        (on any instance) is waited for.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM sessions WHERE protocol = $1 FOR UPDATE", protocol)
            rows = await conn.fetch(_POSITIONS, protocol, subscriber_id)
        return {str(row[0]): int(row[1]) for row in rows}

    async def backlog(self, protocol: str, subscriber_id: str) -> int:
        """Return how many messages the session has not acked."""
        value = await self.pool.fetchval(
            "SELECT coalesce(sum(greatest(0, c.last_seq - coalesce(p.seq, mb.joined_seq))), 0) "
            "FROM members mb JOIN conversations c ON c.group_id = mb.group_id "
            "LEFT JOIN session_positions p ON p.protocol = $1 AND p.group_id = mb.group_id "
            "WHERE mb.subscriber_id = $2",
            protocol,
            subscriber_id,
        )
        return int(value)

    async def messages_after(
        self, subscriber_id: str, positions: Positions, limit: int
    ) -> list[MessageRecord]:
        """Return up to ``limit`` messages beyond ``positions``, in commit order (one query)."""
        rows = await self.pool.fetch(_AFTER, encode_json(positions).decode(), subscriber_id, limit)
        return [message_row(row) for row in rows]

    async def save_positions(self, positions: dict[str, Positions], seen_at: float) -> None:
        """Move sessions forward (never back) and mark them seen, in one transaction."""
        if not positions:
            return
        protocols, groups, seqs = [], [], []
        for protocol, stands in positions.items():
            for group_id, seq in stands.items():
                protocols.append(protocol)
                groups.append(group_id)
                seqs.append(seq)
        async with self.pool.acquire() as conn, conn.transaction():
            # Sorted, so that two instances saving the same sessions lock them in one order.
            await conn.execute(
                "UPDATE sessions SET seen_at = greatest(seen_at, $1) WHERE protocol IN "
                "(SELECT protocol FROM sessions WHERE protocol = ANY($2::text[]) "
                "ORDER BY protocol FOR UPDATE)",
                seen_at,
                sorted(positions),
            )
            if protocols:
                await conn.execute(
                    "INSERT INTO session_positions (protocol, group_id, seq) "
                    "SELECT u.p, u.g, max(u.s) FROM unnest($1::text[], $2::text[], $3::bigint[]) "
                    "AS u(p, g, s) WHERE EXISTS (SELECT 1 FROM sessions WHERE protocol = u.p) "
                    "GROUP BY u.p, u.g "
                    "ON CONFLICT (protocol, group_id) DO UPDATE "
                    "SET seq = greatest(session_positions.seq, excluded.seq)",
                    protocols,
                    groups,
                    seqs,
                )

    async def drop_sessions(self, protocols: list[str]) -> None:
        """Forget sessions and their positions."""
        if protocols:
            await self.pool.execute(
                "DELETE FROM sessions WHERE protocol = ANY($1::text[])", protocols
            )

    async def expire_sessions(self, seen_before: float) -> int:
        """Forget every session last seen before ``seen_before``."""
        status = await self.pool.execute("DELETE FROM sessions WHERE seen_at < $1", seen_before)
        return int(str(status).rsplit(" ", 1)[-1])
