"""A :class:`~fabric_chat_server.store.Store` in PostgreSQL, shared by N server instances.

``fabric-chat serve --db postgresql://USER@HOST/DB`` selects it (the password, if any, from
``PGPASSWORD`` or ``~/.pgpass``, so it stays out of argv). The driver is asyncpg: the fastest
maintained asyncio driver, speaking PostgreSQL's binary protocol, with ``LISTEN`` support.

Every instance reads and writes the same rows, so the store caches only what cannot go wrong
across instances: rows found (never an absence), for a few seconds at most (:class:`TtlCache`),
and membership once seen (members never leave). A send is one statement: it takes the next
``seq`` from its conversation's counter row (``UPDATE ... RETURNING``), whose row lock orders
the concurrent senders of one conversation, so each conversation's ``seq`` is gapless and in
commit order; conversations commit concurrently. Listeners added with
:meth:`PostgresStore.add_commit_listener` hear each committed message (a bus publishes them).

Time order across conversations: a message's ``ts`` is the database's clock at its insert, kept
above its conversation's previous one, so within a conversation ``ts`` grows with ``seq``.
Across conversations, sends commit concurrently, so :meth:`PostgresStore.snapshot` (the
largest committed ``ts``) holds "every later message has a larger ts" except for a send in
flight at that instant (a window of one transaction): a conversation list walked at that moment
may then see that one conversation move. SQLite, with one writer, has no such window.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ._extras import MissingExtraError, missing_extra_message
from ._pg_cache import TtlCache
from ._pg_limits import IDLE_BUCKET_SECONDS, PostgresRateLimiter
from ._pg_pool import RetryingPool
from ._pg_schema import ADDRESS_COLUMNS, LISTS, MESSAGE_COLUMNS, migrate
from ._pg_sessions import PostgresSessions
from ._sqlite_rows import (
    ROW_TO_RECORD,
    address_row,
    conversation_row,
    encode_json,
    message_row,
)
from .store import (
    NAMED_LIMIT,
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

try:
    import asyncpg
except ModuleNotFoundError as exc:  # pip install fabric-chat[server], without postgres
    raise MissingExtraError(
        missing_extra_message("postgres", "PostgreSQL as the store"), name=exc.name
    ) from None

__all__ = ["CommitListener", "PostgresStore", "is_postgres_url", "redact_dsn"]

logger = logging.getLogger(__name__)

CommitListener = Callable[[Sequence[MessageRecord]], None]
"""Called on the event loop with the messages of each commit, right after it."""

_ROW_TTL = 2.0  # seconds a cached project, subscriber or address is served
_CONVERSATION_TTL = 60.0  # a conversation's fields never change but its last_message_at

_CONVERSATION_COLUMNS = (
    "c.group_id, c.project_id, c.kind, c.address_a, c.address_b, c.name, c.created_at, "
    "c.last_message_at, c.metadata"
)

# One statement per send: claim the idempotency key (waiting for a concurrent claim of it to
# commit or roll back), take the next seq and a later ts from the conversation's counter row,
# insert the message. No row comes back when the key was claimed before.
_SEND = (
    "WITH k AS (INSERT INTO idempotency_keys (subscriber_id, key, message_id, created_at) "
    "SELECT $14, $15, $1, $6 WHERE $14::text IS NOT NULL ON CONFLICT DO NOTHING RETURNING 1), "
    "c AS (UPDATE conversations SET last_seq = last_seq + 1, "
    "last_message_at = greatest(extract(epoch FROM clock_timestamp())::float8, "
    "coalesce(last_message_at, 0) + 0.000001) "
    "WHERE group_id = $2 AND ($14::text IS NULL OR EXISTS (SELECT 1 FROM k)) "
    "RETURNING last_seq, last_message_at) "
    "INSERT INTO messages (id, group_id, from_address_id, subscriber_id, user_name, ts, type, "
    "subtype, kind, text, metadata, details, hidden, seq) "
    "SELECT $1, $2, $3, $4, $5, c.last_message_at, $7, $8, $9, $10, $11, $12, $13, c.last_seq "
    "FROM c RETURNING seq, ts"
)
_EARLIER = (
    f"SELECT {MESSAGE_COLUMNS} FROM idempotency_keys k JOIN messages m ON m.id = k.message_id "
    "WHERE k.subscriber_id = $1 AND k.key = $2"
)


def is_postgres_url(database: str) -> bool:
    """Say whether ``database`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return database.startswith(("postgresql://", "postgres://"))


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` without its password (for logs, errors and reprs)."""
    scheme, sep, rest = dsn.partition("://")
    if not sep:
        return "postgresql://?"
    credentials, at, location = rest.rpartition("@")
    if not at:
        return dsn.split("?", 1)[0]
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{location.split('?', 1)[0]}"


async def _keep_session(conn: Any) -> None:
    """Release a pooled connection as it is: it holds no session state to clear.

    asyncpg's default release runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL``: one more round trip after every store call (profiled at 1.6 of 38 CPU-seconds of a
    busy instance). The store's connections never ``LISTEN`` (the bus has its own), ``SET``
    nothing, open cursors only inside transactions, and release the migration's advisory lock
    in a ``finally``. asyncpg still rolls back a transaction left open before this runs.
    """


class PostgresStore(PostgresSessions):
    """A :class:`~fabric_chat_server.store.Store` in one PostgreSQL database.

    Args:
        dsn: ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE`` (never logged or shown).
        min_connections: Connections the pool keeps open.
        max_connections: Connections the pool opens at most.
    """

    def __init__(self, dsn: str, *, min_connections: int = 1, max_connections: int = 10) -> None:
        self.__dsn = dsn
        self._where = redact_dsn(dsn)
        self._min, self._max = min_connections, max_connections
        self._pool: RetryingPool | None = None
        self._listeners: list[CommitListener] = []
        self._projects: TtlCache[str, ProjectRecord] = TtlCache(_ROW_TTL)
        self._subscribers: TtlCache[str, SubscriberRecord] = TtlCache(_ROW_TTL)
        self._addresses: TtlCache[str, AddressRecord] = TtlCache(_ROW_TTL)
        self._addresses_of: TtlCache[str, list[AddressRecord]] = TtlCache(_ROW_TTL)
        self._conversations: TtlCache[str, ConversationRecord] = TtlCache(_CONVERSATION_TTL)
        self._pairs: TtlCache[tuple[str, str], str] = TtlCache(_CONVERSATION_TTL)
        self._member_ids: dict[str, set[str]] = {}
        self._member_count = 0
        self.schema_version_found = 0

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` with the new messages of each commit, right after it commits."""
        self._listeners.append(listener)

    def _committed(self, records: Sequence[MessageRecord]) -> None:
        for listener in list(self._listeners):
            try:
                listener(records)
            except Exception:
                logger.exception("a commit listener failed")

    async def open(self) -> None:
        """Connect, migrate the schema to the current version (once across instances)."""
        try:
            self._pool = RetryingPool(
                await asyncpg.create_pool(
                    self.__dsn,
                    min_size=self._min,
                    max_size=self._max,
                    command_timeout=60,
                    reset=_keep_session,
                )
            )
        except (OSError, asyncpg.PostgresError) as exc:
            # asyncpg's message names host and user at most, never the password; say where.
            raise ConnectionError(
                f"cannot connect to {self._where}: {type(exc).__name__}: {exc}"
            ) from None
        try:
            async with self._pool.acquire() as conn:
                self.schema_version_found = await migrate(conn)
        except BaseException:
            await self.close()
            raise
        logger.debug("opened %s", self._where)

    async def close(self) -> None:
        """Close the pool (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def rate_limiter(self, name: str, rate: float, burst: int) -> PostgresRateLimiter:
        """Return the limit ``name`` (``rate`` a second, ``burst`` at once), shared by every
        instance on this database (see :mod:`~fabric_chat_server.limits`)."""
        return PostgresRateLimiter(lambda: self.pool, name, rate, burst)

    async def expire_sessions(self, seen_before: float) -> int:
        """Forget sessions last seen before ``seen_before``, and rate buckets long idle."""
        await self.pool.execute(
            "DELETE FROM rate_buckets WHERE at < extract(epoch FROM clock_timestamp()) - $1",
            IDLE_BUCKET_SECONDS,
        )
        return await super().expire_sessions(seen_before)

    async def expire_idempotency_keys(self, created_before: float) -> int:
        """Forget the idempotency keys created before ``created_before``; return how many."""
        status = await self.pool.execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1", created_before
        )
        return int(str(status).rsplit(" ", 1)[-1])

    @property
    def pool(self) -> RetryingPool:
        """The store's pool (reads retried once after a lost connection); ``pool.raw`` is the
        asyncpg pool itself."""
        if self._pool is None:
            raise RuntimeError("the store is not open")
        return self._pool

    # Settings and projects.

    async def get_setting(self, key: str) -> str | None:
        """Return a stored setting, or ``None``."""
        value = await self.pool.fetchval("SELECT value FROM settings WHERE key = $1", key)
        return None if value is None else str(value)

    async def set_setting(self, key: str, value: str) -> None:
        """Store a setting, replacing any earlier value."""
        await self.pool.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )

    async def ensure_setting(self, key: str, value: str) -> str:
        """Store ``value`` unless the setting exists; return the stored one (first writer wins)."""
        stored = await self.pool.fetchval(
            "WITH i AS (INSERT INTO settings (key, value) VALUES ($1, $2) "
            "ON CONFLICT (key) DO NOTHING RETURNING value) "
            "SELECT value FROM i UNION ALL SELECT value FROM settings WHERE key = $1 LIMIT 1",
            key,
            value,
        )
        if stored is None:  # the row that conflicted was not yet visible: read it now
            stored = await self.get_setting(key)
        assert stored is not None
        return str(stored)

    async def put_project(self, project_id: str, token_hash: str) -> ProjectRecord:
        """Create the project, or replace its token hash."""
        row = await self.pool.fetchrow(
            "INSERT INTO projects (id, token_hash, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash "
            "RETURNING id, token_hash, created_at",
            project_id,
            token_hash,
            time.time(),
        )
        project = ProjectRecord(id=row[0], token_hash=row[1], created_at=row[2])
        return self._projects.put(project_id, project)

    async def get_project(self, project_id: str) -> ProjectRecord | None:
        """Return a project by id, or ``None``."""
        cached = self._projects.get(project_id)
        if cached is not None:
            return cached
        row = await self.pool.fetchrow(
            "SELECT id, token_hash, created_at FROM projects WHERE id = $1", project_id
        )
        if row is None:
            return None
        return self._projects.put(
            project_id, ProjectRecord(id=row[0], token_hash=row[1], created_at=row[2])
        )

    async def first_project(self) -> ProjectRecord | None:
        """Return the oldest project, or ``None``."""
        row = await self.pool.fetchrow(
            "SELECT id, token_hash, created_at FROM projects ORDER BY created_at, id LIMIT 1"
        )
        return (
            None if row is None else ProjectRecord(id=row[0], token_hash=row[1], created_at=row[2])
        )

    # Subscribers and addresses.

    async def ensure_subscriber(
        self, project_id: str, reference: str, display_name: str | None, email: str | None = None
    ) -> tuple[SubscriberRecord, AddressRecord]:
        """Return the subscriber ``reference`` and its own address, creating both when new."""
        now = time.time()
        async with self.pool.acquire() as conn, conn.transaction():
            subscriber_id = await conn.fetchval(
                "INSERT INTO subscribers (id, project_id, reference, display_name, email, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
                str(uuid.uuid4()),
                project_id,
                reference,
                display_name,
                email,
                now,
            )
            if subscriber_id is not None:
                await conn.execute(
                    "INSERT INTO addresses (id, project_id, subscriber_id, name, display_name, "
                    "type, created_at) VALUES ($1, $2, $3, $4, $5, 'subscriber', $6)",
                    str(uuid.uuid4()),
                    project_id,
                    subscriber_id,
                    reference,
                    display_name or reference,
                    now,
                )
            else:
                subscriber_id = await conn.fetchval(
                    "UPDATE subscribers SET email = coalesce($3, email), "
                    "display_name = coalesce($4, display_name) "
                    "WHERE project_id = $1 AND reference = $2 RETURNING id",
                    project_id,
                    reference,
                    email,
                    display_name,
                )
                if display_name is not None:
                    await conn.execute(
                        "UPDATE addresses SET display_name = $1 WHERE subscriber_id = $2 "
                        "AND type = 'subscriber'",
                        display_name,
                        subscriber_id,
                    )
        self._subscribers.pop(subscriber_id)
        self._addresses_of.pop(subscriber_id)
        addresses = await self._read_addresses(subscriber_id)
        for address in addresses:
            self._addresses.pop(address.id)
        subscriber = await self.get_subscriber(subscriber_id)
        assert subscriber is not None
        assert addresses
        return subscriber, addresses[0]

    async def get_subscriber(self, subscriber_id: str) -> SubscriberRecord | None:
        """Return a subscriber by id, or ``None``."""
        cached = self._subscribers.get(subscriber_id)
        if cached is not None:
            return cached
        row = await self.pool.fetchrow(
            "SELECT id, project_id, reference, display_name, email, created_at FROM subscribers "
            "WHERE id = $1",
            subscriber_id,
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
        return self._subscribers.put(subscriber_id, subscriber)

    async def _read_addresses(self, subscriber_id: str) -> list[AddressRecord]:
        rows = await self.pool.fetch(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.subscriber_id = $1 "
            "ORDER BY a.created_at, a.id",
            subscriber_id,
        )
        return [address_row(row) for row in rows]

    async def subscriber_addresses(self, subscriber_id: str) -> list[AddressRecord]:
        """Return a subscriber's addresses, oldest (its own) first."""
        cached = self._addresses_of.get(subscriber_id)
        if cached is None:
            cached = await self._read_addresses(subscriber_id)
            if cached:
                self._addresses_of.put(subscriber_id, cached)
        return list(cached)

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
        await self.pool.execute(
            "INSERT INTO addresses (id, project_id, subscriber_id, name, display_name, type, "
            "created_at, cover_url, preview_url) VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT DO NOTHING",
            str(uuid.uuid4()),
            project_id,
            name,
            display_name or name,
            type,
            time.time(),
            cover_url,
            preview_url,
        )
        row = await self.pool.fetchrow(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = $1 AND a.name = $2 "
            "AND a.type <> 'subscriber'",
            project_id,
            name,
        )
        return address_row(row)

    async def addresses_named(self, project_id: str, name: str) -> list[AddressRecord]:
        """Return the project's addresses called exactly ``name``: a shared one first."""
        if "\x00" in name:  # PostgreSQL text cannot hold a NUL: no stored name has one
            return []
        rows = await self.pool.fetch(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = $1 AND a.name = $2 "
            "ORDER BY a.type = 'subscriber', a.created_at, a.id LIMIT $3",
            project_id,
            name,
            NAMED_LIMIT,
        )
        return [address_row(row) for row in rows]

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None:
        """Return an address of the project, or ``None``."""
        cached = self._addresses.get(address_id)
        if cached is None:
            row = await self.pool.fetchrow(
                f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.id = $1", address_id
            )
            if row is None:
                return None
            cached = self._addresses.put(address_id, address_row(row))
        return cached if cached.project_id == project_id else None

    # Conversations.

    async def get_conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id, or ``None`` (an absence is never cached)."""
        cached = self._conversations.get(group_id)
        if cached is not None:
            return cached
        row = await self.pool.fetchrow(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE c.group_id = $1",
            group_id,
        )
        if row is None:
            return None
        return self._conversations.put(group_id, conversation_row(row))

    async def find_conversation(self, project_id: str, key: str) -> ConversationRecord | None:
        """Return the conversation with this pair key, or ``None``."""
        group_id = self._pairs.get((project_id, key))
        if group_id is not None:
            return await self.get_conversation(group_id)
        row = await self.pool.fetchrow(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c "
            "WHERE c.project_id = $1 AND c.pair_key = $2",
            project_id,
            key,
        )
        if row is None:
            return None
        conversation = conversation_row(row)
        self._pairs.put((project_id, key), conversation.group_id)
        return self._conversations.put(conversation.group_id, conversation)

    async def open_conversation(
        self, conversation: ConversationRecord, key: str, members: list[tuple[str, str]]
    ) -> ConversationRecord:
        """Return the conversation with ``key`` (created when new) with ``members`` added."""
        known = self._pairs.get((conversation.project_id, key))
        if known is not None:
            stored = await self.get_conversation(known)
            present = self._member_ids.get(known, set())
            if stored is not None and all(member in present for member, _ in members):
                return stored
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO conversations (group_id, project_id, pair_key, kind, address_a, "
                "address_b, name, metadata, created_at, last_message_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL) ON CONFLICT DO NOTHING",
                conversation.group_id,
                conversation.project_id,
                key,
                conversation.kind,
                conversation.address_a,
                conversation.address_b,
                conversation.name,
                encode_json(conversation.metadata).decode(),
                conversation.created_at,
            )
            row = await conn.fetchrow(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c "
                "WHERE c.project_id = $1 AND c.pair_key = $2",
                conversation.project_id,
                key,
            )
            group_id = row[0]
            now = time.time()
            await conn.executemany(
                "INSERT INTO members (group_id, subscriber_id, address_id, joined_at, joined_seq) "
                "SELECT $1, $2, $3, $4, last_seq FROM conversations WHERE group_id = $1 "
                "ON CONFLICT DO NOTHING",
                [
                    (group_id, subscriber_id, address_id, now)
                    for subscriber_id, address_id in members
                ],
            )
        stored = conversation_row(row)
        self._pairs.put((conversation.project_id, key), group_id)
        self._conversations.put(group_id, stored)
        for subscriber_id, _ in members:
            self._remember_member(group_id, subscriber_id)
        return stored

    def _remember_member(self, group_id: str, subscriber_id: str) -> None:
        if self._member_count >= 200_000:
            self._member_ids.clear()
            self._member_count = 0
        known = self._member_ids.setdefault(group_id, set())
        if subscriber_id not in known:
            known.add(subscriber_id)
            self._member_count += 1

    async def is_member(self, group_id: str, subscriber_id: str) -> bool:
        """Say whether the subscriber belongs to the conversation (members never leave)."""
        if subscriber_id in self._member_ids.get(group_id, ()):
            return True
        found = await self.pool.fetchval(
            "SELECT true FROM members WHERE group_id = $1 AND subscriber_id = $2",
            group_id,
            subscriber_id,
        )
        if found:
            self._remember_member(group_id, subscriber_id)
        return bool(found)

    async def members(self, group_id: str) -> list[tuple[str, str]]:
        """Return ``(subscriber id, address id)`` of every member (read each time)."""
        rows = await self.pool.fetch(
            "SELECT subscriber_id, address_id FROM members WHERE group_id = $1 ORDER BY joined_at",
            group_id,
        )
        return [(row[0], row[1]) for row in rows]

    # Messages.

    async def insert_message(
        self, message: MessageRecord, idempotency: tuple[str, str] | None
    ) -> tuple[MessageRecord, bool]:
        """Store a message with the next ``seq`` and a later ``ts`` (or replay an idempotent one).

        Returns once committed; commit listeners have heard of a new message by then.
        """
        subscriber, key = idempotency if idempotency is not None else (None, None)
        for _ in range(3):
            # Not retried on a lost connection: it may have committed (the client retries with
            # its idempotency key, which makes that safe).
            row = await self.pool.write_row(
                _SEND,
                message.id,
                message.group_id,
                message.from_address_id,
                message.subscriber_id,
                message.user_name,
                time.time(),
                message.type,
                message.subtype,
                message.kind,
                message.text,
                encode_json(message.metadata).decode(),
                encode_json(message.details).decode(),
                message.hidden,
                subscriber,
                key,
            )
            if row is not None:
                stored = msgspec.structs.replace(message, ts=row[1], seq=row[0])
                cached = self._conversations.get(stored.group_id)
                if cached is not None:
                    self._conversations.put(
                        stored.group_id, msgspec.structs.replace(cached, last_message_at=stored.ts)
                    )
                self._committed((stored,))
                return stored, True
            if subscriber is None or key is None:
                raise LookupError(f"no conversation {message.group_id!r}")
            earlier = await self.pool.fetchrow(_EARLIER, subscriber, key)
            if earlier is not None:
                return message_row(earlier), False
        raise RuntimeError("the idempotency key is claimed by a message that is not stored")

    async def message_at(self, group_id: str, seq: int) -> MessageRecord | None:
        """Return the message at ``seq`` of the conversation, or ``None``."""
        row = await self.pool.fetchrow(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.group_id = $1 AND m.seq = $2",
            group_id,
            seq,
        )
        return None if row is None else message_row(row)

    async def messages_at(self, positions: Sequence[tuple[str, int]]) -> list[MessageRecord]:
        """Return the messages at these positions that exist, by conversation and ``seq``."""
        if not positions:
            return []
        wanted = sorted(set(positions))
        rows = await self.pool.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM unnest($1::text[], $2::bigint[]) AS p(g, s) "
            "JOIN messages m ON m.group_id = p.g AND m.seq = p.s ORDER BY m.group_id, m.seq",
            [group_id for group_id, _ in wanted],
            [seq for _, seq in wanted],
        )
        return [message_row(row) for row in rows]

    async def snapshot(self) -> float:
        """Return the ts of the last committed message (see the module's notes on N instances)."""
        value = await self.pool.fetchval("SELECT max(ts) FROM messages")
        return float(value or 0.0)

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
        base, sort, ident, free = LISTS[kind]
        params: list[Any] = [scope]
        if kind in SNAPSHOT_LISTS:
            params = [await self.snapshot() if as_of is None else as_of, scope]
        sql = base
        if position is not None:
            op = "<" if direction == "older" else ">"
            sql += f" AND ({sort}, {ident}) {op} (${free}::float8, ${free + 1}::text)"
            params += [position[0], position[1]]
            free += 2
        order = "DESC" if direction == "older" else "ASC"
        sql += f" ORDER BY {sort} {order}, {ident} {order} LIMIT ${free}"
        rows = await self.pool.fetch(sql, *params, limit)
        if direction == "newer":
            rows.reverse()
        convert = ROW_TO_RECORD[kind]
        return [convert(row) for row in rows]
