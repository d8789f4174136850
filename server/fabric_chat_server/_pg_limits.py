"""Token buckets in PostgreSQL: one limit for a caller across every instance of the server.

A bucket is a row of ``rate_buckets`` (``tokens`` left at ``at``, in seconds of the database's
clock, the one clock all instances share), refilled lazily as :class:`~.limits.RateLimiter`
does, and taken from in one statement: the row lock orders concurrent takers, so N instances
grant a caller no more than one would.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IDLE_BUCKET_SECONDS", "PostgresRateLimiter"]

IDLE_BUCKET_SECONDS = 3600.0
"""Buckets untouched this long are deleted (refilled long since, for every rate in use)."""

_NOW = "extract(epoch FROM clock_timestamp())::float8"

# Insert a full bucket less one, or take one from a refilled bucket holding at least one; a
# bucket holding less is left as it is and the statement returns the wait instead.
_TAKE = (
    "WITH t AS (INSERT INTO rate_buckets AS b (key, tokens, at) "
    f"VALUES ($1, $3::float8 - 1, {_NOW}) "
    "ON CONFLICT (key) DO UPDATE SET "
    "tokens = least($3::float8, b.tokens + (excluded.at - b.at) * $2) - 1, at = excluded.at "
    "WHERE least($3::float8, b.tokens + (excluded.at - b.at) * $2) >= 1 RETURNING 0::float8 AS w) "
    "SELECT w FROM t UNION ALL "
    f"SELECT (1 - least($3::float8, b.tokens + ({_NOW} - b.at) * $2)) / $2 "
    "FROM rate_buckets b WHERE b.key = $1 AND NOT EXISTS (SELECT 1 FROM t)"
)
_PEEK = (
    f"SELECT greatest(0, 1 - least($3::float8, tokens + ({_NOW} - at) * $2)) / $2 "
    "FROM rate_buckets WHERE key = $1"
)


class PostgresRateLimiter:
    """A :class:`~fabric_chat_server.limits.Throttle` whose buckets live in PostgreSQL.

    Args:
        pool: Returns the store's asyncpg pool (open by the time a request comes).
        name: Keeps this limit's buckets apart from the others' in the one table.
        rate: Sustained takes per second; ``0`` (or less) disables the limit.
        burst: Bucket size.
    """

    def __init__(self, pool: Any, name: str, rate: float, burst: int) -> None:
        self._pool = pool
        self._prefix = name + ":"
        self.rate = rate
        self.burst = max(1, burst)

    def __repr__(self) -> str:
        return f"PostgresRateLimiter({self._prefix[:-1]!r}, rate={self.rate}, burst={self.burst})"

    async def acquire(self, caller: str) -> float:
        """Take one from ``caller``'s bucket: ``0.0`` when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        wait = await self._pool().fetchval(_TAKE, self._prefix + caller, self.rate, self.burst)
        # No row: the bucket another instance just made is not in this statement's snapshot.
        return 1.0 / self.rate if wait is None else max(0.0, float(wait))

    async def available(self, caller: str) -> float:
        """Return the seconds until ``caller`` has one left (``0.0``: now), taking none."""
        if self.rate <= 0:
            return 0.0
        wait = await self._pool().fetchval(_PEEK, self._prefix + caller, self.rate, self.burst)
        return 0.0 if wait is None else float(wait)
