"""The SQLite schema of :class:`~fabric_chat_server.sqlite_store.SqliteStore` and row decoding."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from fabric_chat.contract import LIMITS

from .gate import GateError, check_json_shape
from .store import AddressRecord, ConversationRecord, MessageRecord

__all__ = [
    "ADDRESS_COLUMNS",
    "CONVERSATION_COLUMNS",
    "LISTS",
    "MESSAGE_COLUMNS",
    "ROW_TO_RECORD",
    "SCHEMA",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "UPGRADES",
    "address_row",
    "conversation_row",
    "encode_json",
    "message_row",
]

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscribers (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), reference TEXT NOT NULL,
    display_name TEXT, email TEXT, created_at REAL NOT NULL, UNIQUE (project_id, reference));
CREATE TABLE IF NOT EXISTS addresses (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    subscriber_id TEXT REFERENCES subscribers(id), name TEXT NOT NULL, display_name TEXT NOT NULL,
    type TEXT NOT NULL, created_at REAL NOT NULL, locked INTEGER NOT NULL DEFAULT 0,
    cover_url TEXT, preview_url TEXT);
CREATE INDEX IF NOT EXISTS addresses_page ON addresses (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS addresses_owner ON addresses (subscriber_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS shared_by_name ON addresses (project_id, name)
    WHERE type <> 'subscriber';
CREATE TABLE IF NOT EXISTS conversations (
    group_id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    pair_key TEXT NOT NULL, kind TEXT NOT NULL, address_a TEXT NOT NULL, address_b TEXT,
    name TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT NULL, last_message_at REAL,
    last_seq INTEGER NOT NULL DEFAULT 0, UNIQUE (project_id, pair_key));
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL REFERENCES conversations(group_id),
    subscriber_id TEXT NOT NULL REFERENCES subscribers(id), address_id TEXT NOT NULL,
    joined_at REAL NOT NULL, joined_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, subscriber_id));
CREATE INDEX IF NOT EXISTS members_by_subscriber ON members (subscriber_id, group_id);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES conversations(group_id),
    from_address_id TEXT NOT NULL, subscriber_id TEXT NOT NULL, user_name TEXT, ts REAL NOT NULL,
    type TEXT NOT NULL, subtype TEXT NOT NULL, kind TEXT, text TEXT, metadata TEXT NOT NULL,
    details TEXT NOT NULL, hidden INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_page ON messages (group_id, ts, id);
CREATE INDEX IF NOT EXISTS messages_ts ON messages (ts, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_seq ON messages (group_id, seq);
CREATE TRIGGER IF NOT EXISTS messages_touch_conversation AFTER INSERT ON messages BEGIN
    UPDATE conversations SET last_message_at = NEW.ts, last_seq = NEW.seq
    WHERE group_id = NEW.group_id; END;
CREATE TABLE IF NOT EXISTS sessions (
    protocol TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL, project_id TEXT NOT NULL,
    event_acks INTEGER NOT NULL, authorization_state TEXT NOT NULL, created_at REAL NOT NULL,
    seen_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_subscriber ON sessions (subscriber_id, seen_at);
CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (seen_at);
CREATE TABLE IF NOT EXISTS session_positions (
    protocol TEXT NOT NULL REFERENCES sessions(protocol) ON DELETE CASCADE,
    group_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (protocol, group_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    subscriber_id TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (subscriber_id, key));
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
"""

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

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the schema above; :data:`MIGRATIONS` bring older files to it."""

# Files made before messages had a seq (user_version 0 or 1): add the columns, number each
# conversation's messages in (ts, id) order and record the last number. Sessions are new tables.
UPGRADES: tuple[str, ...] = (
    "ALTER TABLE conversations ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
    "UPDATE messages SET seq = r.n FROM (SELECT id, row_number() OVER "
    "(PARTITION BY group_id ORDER BY ts, id) AS n FROM messages) AS r WHERE r.id = messages.id",
    "UPDATE conversations SET last_seq = (SELECT coalesce(max(seq), 0) FROM messages m "
    "WHERE m.group_id = conversations.group_id)",
    "DROP TRIGGER IF EXISTS messages_touch_conversation",
)

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = ((2, UPGRADES),)
"""``(version, statements)`` in order: a file below a version gets its statements, in one
transaction, and then :data:`SCHEMA` (``IF NOT EXISTS``) adds the tables and indexes it lacks.
Version 1 is the first schema (messages without ``seq``); a new file gets :data:`SCHEMA` alone.
"""

MESSAGE_COLUMNS = (
    "m.id, m.group_id, m.from_address_id, m.subscriber_id, m.user_name, m.ts, m.type, m.subtype, "
    "m.kind, m.text, m.metadata, m.details, m.hidden, m.seq"
)
CONVERSATION_COLUMNS = (
    "c.group_id, c.project_id, c.kind, c.address_a, c.address_b, c.name, c.created_at, "
    "c.last_message_at, c.metadata"
)
ADDRESS_COLUMNS = (
    "a.id, a.project_id, a.subscriber_id, a.name, a.display_name, a.type, a.created_at, a.locked, "
    "a.cover_url, a.preview_url"
)

# kind -> (SELECT ... FROM ... WHERE <scope = ?>, sort column, id column). The conversations
# list is read as of a snapshot: its query takes that snapshot, then the scope, as parameters,
# and each conversation's last message is its last one at or before the snapshot.
LISTS: dict[str, tuple[str, str, str]] = {
    "conversation_messages": (
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.group_id = ?",
        "m.ts",
        "m.id",
    ),
    "subscriber_messages": (
        f"SELECT {MESSAGE_COLUMNS} FROM messages m JOIN members mb ON mb.group_id = m.group_id "
        "WHERE mb.subscriber_id = ?",
        "m.ts",
        "m.id",
    ),
    "conversations": (
        "SELECT v.group_id, v.project_id, v.kind, v.address_a, v.address_b, v.name, "
        "v.created_at, v.last_message_at, v.metadata FROM ("
        "SELECT c.group_id, c.project_id, c.kind, c.address_a, c.address_b, c.name, "
        "c.created_at, (SELECT max(m.ts) FROM messages m WHERE m.group_id = c.group_id "
        "AND m.ts <= ?) AS last_message_at, c.metadata FROM conversations c "
        "JOIN members mb ON mb.group_id = c.group_id WHERE mb.subscriber_id = ?) v WHERE 1",
        "coalesce(v.last_message_at, v.created_at)",
        "v.group_id",
    ),
    "addresses": (
        f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = ?",
        "a.created_at",
        "a.id",
    ),
}

encode_json = msgspec.json.encode
_decode_json_object = msgspec.json.Decoder(dict[str, Any]).decode


def _decode_object(raw: str) -> dict[str, Any]:
    """Decode a stored metadata or details object; one past the spec's limits reads as ``{}``.

    The gate refuses such objects, but a database written before it may hold one (a metadata
    nested 975 levels deep made every page holding it fail); it must not poison a reader.
    """
    # More opening brackets than levels allowed is the only way to nest too deep: cheap test.
    if len(raw) > 2 * LIMITS.json_depth and raw.count("{") + raw.count("[") > LIMITS.json_depth:
        try:
            value = _decode_json_object(raw)
            check_json_shape(value, depth=LIMITS.json_depth, attribute=None)
        except (GateError, RecursionError, msgspec.DecodeError):
            logger.warning("a stored object is past the limits; it reads as {}")
            return {}
        return value
    return _decode_json_object(raw)


def message_row(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row[0],
        group_id=row[1],
        from_address_id=row[2],
        subscriber_id=row[3],
        user_name=row[4],
        ts=row[5],
        type=row[6],
        subtype=row[7],
        kind=row[8],
        text=row[9],
        metadata=_decode_object(row[10]),
        details=_decode_object(row[11]),
        hidden=bool(row[12]),
        seq=row[13],
    )


def conversation_row(row: Any) -> ConversationRecord:
    return ConversationRecord(
        group_id=row[0],
        project_id=row[1],
        kind=row[2],
        address_a=row[3],
        address_b=row[4],
        name=row[5],
        created_at=row[6],
        last_message_at=row[7],
        metadata=_decode_object(row[8]),
    )


def address_row(row: Any) -> AddressRecord:
    return AddressRecord(
        id=row[0],
        project_id=row[1],
        subscriber_id=row[2],
        name=row[3],
        display_name=row[4],
        type=row[5],
        created_at=row[6],
        locked=bool(row[7]),
        cover_url=row[8],
        preview_url=row[9],
    )


ROW_TO_RECORD = {
    "conversation_messages": message_row,
    "subscriber_messages": message_row,
    "conversations": conversation_row,
    "addresses": address_row,
}
