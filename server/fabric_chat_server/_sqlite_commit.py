"""Group commit for :class:`~fabric_chat_server.sqlite_store.SqliteStore`: one trip per group.

Concurrent senders queue their messages; the store's writer takes whatever is queued and
commits it in one transaction, in one call to aiosqlite's thread (:func:`write_group` runs
there): look up idempotency keys, number the messages, insert them, commit. A sender is
answered only once its group is committed.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import msgspec

from ._sqlite_rows import MESSAGE_COLUMNS, encode_json, message_row
from .store import MessageRecord

__all__ = ["GroupResult", "write_group"]

GroupResult = tuple[list[tuple[MessageRecord, bool]], dict[str, int], float]
"""Each message's outcome (stored, new), the conversations' last seq, and the last ts."""

_INSERT_MESSAGE = (
    "INSERT INTO messages (id, group_id, from_address_id, subscriber_id, user_name, ts, type, "
    "subtype, kind, text, metadata, details, hidden, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_KEY = (
    "INSERT INTO idempotency_keys (subscriber_id, key, message_id, created_at) VALUES (?, ?, ?, ?)"
)
_EARLIER = (
    f"SELECT k.subscriber_id, k.key, {MESSAGE_COLUMNS} FROM idempotency_keys k "
    "JOIN json_each(?) j ON k.subscriber_id = json_extract(j.value, '$[0]') "
    "AND k.key = json_extract(j.value, '$[1]') "
    "JOIN messages m ON m.id = k.message_id"
)
_LAST_SEQ = (
    "SELECT group_id, last_seq FROM conversations "
    "WHERE group_id IN (SELECT value FROM json_each(?))"
)


def _values(stored: MessageRecord) -> tuple[Any, ...]:
    return (
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
        stored.seq,
    )


def write_group(
    db: sqlite3.Connection,
    batch: list[tuple[MessageRecord, tuple[str, str] | None]],
    known_seq: dict[str, int],
    last_ts: float,
) -> GroupResult:
    """Store a group of messages in one transaction (in the connection's own thread).

    Args:
        db: The store's connection.
        batch: Each message with its idempotency key, in arrival order.
        known_seq: The last seq of conversations already known (read from the database when
            missing; the caller keeps it between groups).
        last_ts: The largest ``ts`` stored so far.

    Returns:
        Each message's outcome, the last seq of the group's conversations, the last ``ts``.
    """
    try:
        earlier: dict[tuple[str, str], MessageRecord] = {}
        keys = [key for _, key in batch if key is not None]
        if keys:
            rows = db.execute(_EARLIER, (encode_json(keys).decode(),)).fetchall()
            earlier = {(row[0], row[1]): message_row(row[2:]) for row in rows}
        last_seq = {m.group_id: known_seq[m.group_id] for m, _ in batch if m.group_id in known_seq}
        missing = list({m.group_id for m, _ in batch} - last_seq.keys())
        if missing:
            rows = db.execute(_LAST_SEQ, (encode_json(missing).decode(),)).fetchall()
            last_seq.update({str(row[0]): int(row[1]) for row in rows})
        results: list[tuple[MessageRecord, bool]] = []
        inserts: list[tuple[Any, ...]] = []
        new_keys: list[tuple[str, str, str, float]] = []
        for message, key in batch:
            if key is not None and key in earlier:
                results.append((earlier[key], False))
                continue
            last_ts = max(time.time(), last_ts + 1e-6)
            seq = last_seq[message.group_id] + 1
            last_seq[message.group_id] = seq
            stored = msgspec.structs.replace(message, ts=last_ts, seq=seq)
            inserts.append(_values(stored))
            if key is not None:
                earlier[key] = stored
                new_keys.append((*key, stored.id, last_ts))
            results.append((stored, True))
        # The trigger messages_touch_conversation moves last_message_at and last_seq.
        db.executemany(_INSERT_MESSAGE, inserts)
        if new_keys:
            db.executemany(_INSERT_KEY, new_keys)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return results, last_seq, last_ts
