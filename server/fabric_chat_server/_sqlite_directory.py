"""The directory half of :class:`~fabric_chat_server.sqlite_store.SqliteStore`.

The connection, settings, projects, subscribers and addresses: rows that rarely change, so each
is cached in memory and kept current by the store's own writes (the store must be the only
writer of its file). :class:`SqliteStore` adds conversations and messages on top.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any, TypeVar

from ._extras import MissingExtraError, missing_extra_message
from ._sqlite_logging import hide_query_parameters
from ._sqlite_rows import ADDRESS_COLUMNS, MIGRATIONS, SCHEMA, SCHEMA_VERSION, address_row
from .store import NAMED_LIMIT, AddressRecord, ProjectRecord, SubscriberRecord

try:
    import aiosqlite
except ModuleNotFoundError as exc:  # pip install fabric-chat, without the server extra
    raise MissingExtraError(
        missing_extra_message("server", "the fabric-chat server"), name=exc.name
    ) from None

__all__ = ["PRAGMAS", "SqliteDirectory", "make_private", "remember"]

logger = logging.getLogger(__name__)

hide_query_parameters()

PRAGMAS: dict[str, str] = {"journal_mode": "WAL", "synchronous": "NORMAL", "foreign_keys": "ON"}
"""The SQLite settings every connection of the store runs with (the benchmarks report them)."""

_K = TypeVar("_K")
_V = TypeVar("_V")
_MAX_CACHED = 50_000  # entries per cache; a full cache is emptied and refilled on demand


def make_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600), or make an existing one so.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode; companions left by
    an older run are set to 0600 too. The file holds the signing secret (unless the operator
    gives it) and the project token's hash.
    """
    if str(path) == ":memory:" or str(path).startswith("file:"):
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            os.chmod(companion, 0o600)


def remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    if len(cache) >= _MAX_CACHED and key not in cache:
        cache.clear()
    cache[key] = value
    return value


class SqliteDirectory:
    """The connection and the directory (projects, subscribers, addresses) of one SQLite file.

    Writes are serialized by one lock, so each is atomic and ``ts`` values grow strictly.

    Args:
        path: The database file; created when missing.
    """

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._projects: dict[str, ProjectRecord] = {}
        self._subscribers: dict[str, SubscriberRecord] = {}
        self._addresses_of: dict[str, list[AddressRecord]] = {}
        self._addresses: dict[str, AddressRecord] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._path)!r})"

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        """Open the file, switch to WAL mode and create the schema when missing."""
        make_private(self._path)
        self._db = await aiosqlite.connect(self._path)
        try:
            for name, value in PRAGMAS.items():
                await self._db.execute(f"PRAGMA {name}={value}")
            await self._upgrade(self._db)
            await self._db.executescript(SCHEMA)
            await self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            await self._db.commit()
        except BaseException:
            await self.close()  # its thread would otherwise outlive the failed start
            raise
        logger.debug("opened %s", self._path)

    @staticmethod
    async def _upgrade(db: aiosqlite.Connection) -> None:
        """Bring a file made by an older version to the current schema, one version at a time.

        Raises:
            RuntimeError: The file was written by a newer server (a later schema version).
        """
        found = int(next(iter(await db.execute_fetchall("PRAGMA user_version")))[0])
        if found > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database has schema version {found}; this server knows up to "
                f"{SCHEMA_VERSION}: upgrade the server"
            )
        tables = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE name = 'messages'")
        if not list(tables):
            return  # a new file: SCHEMA makes it at the current version
        columns = await db.execute_fetchall("SELECT name FROM pragma_table_info('messages')")
        if found < 2 and "seq" in {row[0] for row in columns}:
            found = 2  # written by a server that numbered messages but set no user_version
        for version, statements in MIGRATIONS:
            if version <= found:
                continue
            logger.info("upgrading the database to schema version %d", version)
            for statement in statements:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version={version}")
            await db.commit()

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

    async def ensure_setting(self, key: str, value: str) -> str:
        """Store ``value`` unless the setting exists; return the stored value."""
        async with self._lock:
            await self._conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            await self._conn.commit()
        stored = await self.get_setting(key)
        assert stored is not None
        return stored

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
        return remember(self._projects, project_id, project)

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
        return remember(self._subscribers, subscriber_id, subscriber)

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
            remember(self._addresses_of, subscriber_id, addresses)
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

    async def addresses_named(self, project_id: str, name: str) -> list[AddressRecord]:
        """Return the project's addresses called exactly ``name``: a shared one first."""
        rows = await self._all(
            f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.project_id = ? AND a.name = ? "
            "ORDER BY a.type = 'subscriber', a.created_at, a.id LIMIT ?",
            (project_id, name, NAMED_LIMIT),
        )
        return [address_row(row) for row in rows]

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None:
        """Return an address of the project, or ``None``."""
        cached = self._addresses.get(address_id)
        if cached is None:
            row = await self._one(
                f"SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.id = ?", (address_id,)
            )
            if row is None:
                return None
            cached = remember(self._addresses, address_id, address_row(row))
        return cached if cached.project_id == project_id else None
