"""The asyncpg pool of the PostgreSQL store, as the store uses it through a server restart.

After PostgreSQL restarts (or terminates a backend), a pooled connection fails its next query
with a connection error. The pool then replaces every connection it holds (they were opened
to the same server), and a read (``fetch``, ``fetchrow``, ``fetchval``) is tried once more on a
fresh connection. A write (``execute``, :meth:`RetryingPool.write_row`, a transaction) is not
repeated: it may have committed, so its caller decides (a send is retried by the client, with
its idempotency key). What still fails for want of a connection raises
:class:`~fabric_chat_server.store.StoreUnavailableError` (an HTTP 503), never a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from .store import StoreUnavailableError

__all__ = ["CONNECTION_LOST", "RetryingPool"]

logger = logging.getLogger(__name__)

CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError among them
    asyncpg.exceptions.AdminShutdownError,  # a restart, pg_terminate_backend
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # still starting up
    asyncpg.exceptions.InternalClientError,  # a connection caught half-closed
    ConnectionError,  # refused, reset
)


class RetryingPool:
    """Wrap an asyncpg pool: reads retried once after a lost connection, writes translated.

    Args:
        pool: The asyncpg pool.
    """

    def __init__(self, pool: Any) -> None:
        self.raw = pool

    async def _lost(self, exc: BaseException) -> None:
        logger.info("a database connection was lost (%s)", type(exc).__name__)
        await self.raw.expire_connections()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        """A connection of the pool (``async with pool.acquire() as conn``)."""
        try:
            async with self.raw.acquire() as conn:
                yield conn
        except CONNECTION_LOST as exc:
            await self._lost(exc)
            raise StoreUnavailableError(f"the database connection was lost: {exc}") from exc

    async def execute(self, query: str, *args: Any) -> Any:
        """Run a statement once (a write is never repeated here)."""
        try:
            return await self.raw.execute(query, *args)
        except CONNECTION_LOST as exc:
            await self._lost(exc)
            raise StoreUnavailableError(f"the database connection was lost: {exc}") from exc

    async def write_row(self, query: str, *args: Any) -> Any:
        """Run a writing statement once and return its first row (or ``None``)."""
        try:
            return await self.raw.fetchrow(query, *args)
        except CONNECTION_LOST as exc:
            await self._lost(exc)
            raise StoreUnavailableError(f"the database connection was lost: {exc}") from exc

    async def _read(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        try:
            return await getattr(self.raw, method)(query, *args)
        except CONNECTION_LOST as exc:
            await self._lost(exc)
        try:
            return await getattr(self.raw, method)(query, *args)
        except CONNECTION_LOST as exc:
            raise StoreUnavailableError(f"the database cannot be reached: {exc}") from exc

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        """Return every row of a query."""
        rows: list[Any] = await self._read("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """Return the first row of a query, or ``None``."""
        return await self._read("fetchrow", query, args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        """Return the first column of the first row of a query, or ``None``."""
        return await self._read("fetchval", query, args)

    async def close(self) -> None:
        """Close every connection."""
        await self.raw.close()
