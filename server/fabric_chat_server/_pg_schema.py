"""The PostgreSQL schema of :class:`~fabric_chat_server.postgres_store.PostgresStore`, by version.

:data:`MIGRATIONS` lists every version's statements; :func:`migrate` applies the missing ones
in order, each version in one transaction, under a session advisory lock, so that N instances
starting at once on one database migrate it once. The version reached is kept in
``schema_version``.

Times are Unix seconds (``double precision``), as the records hold them; metadata and details
are stored as the JSON text the gate checked (``text``, not ``jsonb``, so integers of any size
and key order read back exactly).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["LISTS", "MIGRATIONS", "SCHEMA_VERSION", "TABLES", "migrate"]

logger = logging.getLogger(__name__)

_LOCK_KEY = 0x66616272  # "fabr": the advisory lock that serializes migrations

_V1 = """
CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE projects (id text PRIMARY KEY, token_hash text NOT NULL,
    created_at double precision NOT NULL);
CREATE TABLE subscribers (
    id text PRIMARY KEY, project_id text NOT NULL REFERENCES projects(id),
    reference text NOT NULL, display_name text, email text,
    created_at double precision NOT NULL, UNIQUE (project_id, reference));
CREATE TABLE addresses (
    id text PRIMARY KEY, project_id text NOT NULL REFERENCES projects(id),
    subscriber_id text REFERENCES subscribers(id), name text NOT NULL,
    display_name text NOT NULL, type text NOT NULL, created_at double precision NOT NULL,
    locked boolean NOT NULL DEFAULT false, cover_url text, preview_url text);
CREATE INDEX addresses_page ON addresses (project_id, created_at, id);
CREATE INDEX addresses_owner ON addresses (subscriber_id, created_at);
CREATE UNIQUE INDEX shared_by_name ON addresses (project_id, name) WHERE type <> 'subscriber';
CREATE TABLE conversations (
    group_id text PRIMARY KEY, project_id text NOT NULL REFERENCES projects(id),
    pair_key text NOT NULL, kind text NOT NULL, address_a text NOT NULL, address_b text,
    name text NOT NULL, metadata text NOT NULL, created_at double precision NOT NULL,
    last_message_at double precision, last_seq bigint NOT NULL DEFAULT 0,
    UNIQUE (project_id, pair_key));
CREATE TABLE members (
    group_id text NOT NULL REFERENCES conversations(group_id),
    subscriber_id text NOT NULL REFERENCES subscribers(id), address_id text NOT NULL,
    joined_at double precision NOT NULL, joined_seq bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, subscriber_id));
CREATE INDEX members_by_subscriber ON members (subscriber_id, group_id);
CREATE TABLE messages (
    id text PRIMARY KEY, group_id text NOT NULL REFERENCES conversations(group_id),
    from_address_id text NOT NULL, subscriber_id text NOT NULL, user_name text,
    ts double precision NOT NULL, type text NOT NULL, subtype text NOT NULL, kind text,
    text text, metadata text NOT NULL, details text NOT NULL,
    hidden boolean NOT NULL DEFAULT false, seq bigint NOT NULL);
CREATE INDEX messages_page ON messages (group_id, ts, id);
CREATE INDEX messages_ts ON messages (ts, id);
CREATE UNIQUE INDEX messages_seq ON messages (group_id, seq);
CREATE TABLE sessions (
    protocol text PRIMARY KEY, subscriber_id text NOT NULL, project_id text NOT NULL,
    event_acks boolean NOT NULL, authorization_state text NOT NULL,
    created_at double precision NOT NULL, seen_at double precision NOT NULL);
CREATE INDEX sessions_by_subscriber ON sessions (subscriber_id, seen_at);
CREATE INDEX sessions_seen ON sessions (seen_at);
CREATE TABLE session_positions (
    protocol text NOT NULL REFERENCES sessions(protocol) ON DELETE CASCADE,
    group_id text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (protocol, group_id));
CREATE TABLE idempotency_keys (
    subscriber_id text NOT NULL, key text NOT NULL, message_id text NOT NULL,
    created_at double precision NOT NULL, PRIMARY KEY (subscriber_id, key));
"""

# Version 2: the rate limits, connect limits and failed-login throttle, shared by every
# instance (token buckets: ``tokens`` left at ``at``, on the database's clock).
_V2 = """
CREATE TABLE rate_buckets (
    key text PRIMARY KEY, tokens double precision NOT NULL, at double precision NOT NULL);
CREATE INDEX rate_buckets_at ON rate_buckets (at);
"""

# Version 3: idempotency keys expire (``idempotency_key_ttl``): found by age.
_V3 = """
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
"""

MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3))
"""``(version, statements)`` in order; a database at version N gets every later one."""

SCHEMA_VERSION = MIGRATIONS[-1][0]

TABLES = (
    "settings",
    "projects",
    "subscribers",
    "addresses",
    "conversations",
    "members",
    "messages",
    "idempotency_keys",
    "sessions",
    "session_positions",
)


async def migrate(conn: Any) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; return the version it was at.

    Holds an advisory lock while it looks and migrates, so that concurrent starts wait for
    the first one and then find nothing left to do.

    Raises:
        RuntimeError: The database was made by a newer version of the server.
    """
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        found = await conn.fetchval("SELECT max(version) FROM schema_version")
        current = int(found or 0)
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database has schema version {current}; this server knows up to "
                f"{SCHEMA_VERSION}: upgrade the server"
            )
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            logger.info("migrating the database to schema version %d", version)
            async with conn.transaction():
                await conn.execute(statements)
                await conn.execute("DELETE FROM schema_version")
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
        return current
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


_MESSAGE_COLUMNS = (
    "m.id, m.group_id, m.from_address_id, m.subscriber_id, m.user_name, m.ts, m.type, "
    "m.subtype, m.kind, m.text, m.metadata, m.details, m.hidden, m.seq"
)
_ADDRESS_COLUMNS = (
    "a.id, a.project_id, a.subscriber_id, a.name, a.display_name, a.type, a.created_at, "
    "a.locked, a.cover_url, a.preview_url"
)

# kind -> (SELECT ... WHERE <scope = $n>, sort column, id column, first free parameter). The
# conversations list takes the snapshot ($1) and then the scope ($2).
LISTS: dict[str, tuple[str, str, str, int]] = {
    "conversation_messages": (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m WHERE m.group_id = $1",
        "m.ts",
        "m.id",
        2,
    ),
    "subscriber_messages": (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN members mb ON mb.group_id = m.group_id "
        "WHERE mb.subscriber_id = $1",
        "m.ts",
        "m.id",
        2,
    ),
    "conversations": (
        "SELECT v.group_id, v.project_id, v.kind, v.address_a, v.address_b, v.name, "
        "v.created_at, v.last_message_at, v.metadata FROM ("
        "SELECT c.group_id, c.project_id, c.kind, c.address_a, c.address_b, c.name, "
        "c.created_at, (SELECT max(m.ts) FROM messages m WHERE m.group_id = c.group_id "
        "AND m.ts <= $1) AS last_message_at, c.metadata FROM conversations c "
        "JOIN members mb ON mb.group_id = c.group_id WHERE mb.subscriber_id = $2) v WHERE true",
        "coalesce(v.last_message_at, v.created_at)",
        "v.group_id",
        3,
    ),
    "addresses": (
        f"SELECT {_ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = $1",
        "a.created_at",
        "a.id",
        2,
    ),
}

MESSAGE_COLUMNS = _MESSAGE_COLUMNS
ADDRESS_COLUMNS = _ADDRESS_COLUMNS
