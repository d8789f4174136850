"""Per-caller request rate limits and failed-login throttling (token buckets).

The server reaches every limit through the :class:`Throttle` protocol. :class:`RateLimiter`
keeps its buckets in this process (one server on SQLite); a store shared by N instances offers
``store.rate_limiter(name, rate, burst)`` instead, whose buckets live in the store, so that a
caller's limit holds across instances (see :func:`make_throttle`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["LoginGuard", "RateLimiter", "Throttle", "make_throttle"]


class Throttle(Protocol):
    """A token bucket per caller: ``rate`` a second, ``burst`` at once."""

    rate: float

    async def acquire(self, caller: str) -> float:
        """Take one from ``caller``'s bucket: ``0.0`` when allowed, else the seconds to wait."""

    async def available(self, caller: str) -> float:
        """Return the seconds until ``caller`` has one left (``0.0``: now), taking none."""


def make_throttle(store: object, name: str, rate: float, burst: int) -> Throttle:
    """Return the store's shared throttle ``name`` when it offers one, else a local one."""
    shared = getattr(store, "rate_limiter", None)
    if shared is not None:
        throttle: Throttle = shared(name, rate, burst)
        return throttle
    return RateLimiter(rate, burst)


_MAX_CALLERS = 100_000


class RateLimiter:
    """A token bucket per caller: ``rate`` requests a second, ``burst`` at once.

    Args:
        rate: Sustained requests per second; ``0`` (or less) disables limiting.
        burst: Bucket size.
        clock: Monotonic clock, injectable for tests.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, caller: str) -> float:
        """Take one request from ``caller``'s bucket.

        Returns:
            ``0.0`` when allowed, else the seconds to wait before the next request.
        """
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, last = self._buckets.get(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            if len(self._buckets) >= _MAX_CALLERS and caller not in self._buckets:
                self._buckets.clear()
            self._buckets[caller] = (tokens - 1.0, now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def peek(self, caller: str) -> float:
        """Return the seconds until ``caller`` has a request left (``0.0``: now), taking none."""
        if self.rate <= 0:
            return 0.0
        tokens, last = self._buckets.get(caller, (float(self.burst), self._clock()))
        tokens = min(float(self.burst), tokens + (self._clock() - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    async def acquire(self, caller: str) -> float:
        """:meth:`check`, as the :class:`Throttle` protocol spells it."""
        return self.check(caller)

    async def available(self, caller: str) -> float:
        """:meth:`peek`, as the :class:`Throttle` protocol spells it."""
        return self.peek(caller)

    @staticmethod
    def retry_after(wait: float) -> str:
        """Return the ``Retry-After`` header value for a wait, in whole seconds (at least 1)."""
        return str(max(1, math.ceil(wait)))


class LoginGuard:
    """Throttle failed project logins, per client address and per project.

    Each key has a bucket of ``burst`` failures that refills at ``rate`` a second; while a
    key's bucket is empty every login from it (right or wrong) is answered 429 before any
    check, so guessing gains nothing. Successes cost nothing.

    Args:
        rate: Failures a second each client address may sustain.
        burst: Failures a client address may make at once.
        project_rate: Failures a second a project may take, from every address together.
        project_burst: Failures a project may take at once.
        clock: Monotonic clock, injectable for tests.
        store: A store offering shared throttles (``rate_limiter``): the counts then hold
            across every instance on it; ``None`` counts in this process.
    """

    def __init__(
        self,
        *,
        rate: float = 0.5,
        burst: int = 10,
        project_rate: float = 5.0,
        project_burst: int = 100,
        clock: Callable[[], float] = time.monotonic,
        store: object = None,
    ) -> None:
        self._clients: Throttle = RateLimiter(rate, burst, clock=clock)
        self._projects: Throttle = RateLimiter(project_rate, project_burst, clock=clock)
        if store is not None:
            self._clients = make_throttle(store, "login-client", rate, burst)
            self._projects = make_throttle(store, "login-project", project_rate, project_burst)

    async def wait(self, client: str, project_id: str) -> float:
        """Return ``0.0`` when a login may be tried now, else the seconds to wait."""
        return max(
            await self._clients.available(client), await self._projects.available(project_id)
        )

    async def failed(self, client: str, project_id: str) -> None:
        """Count one failed login against the client address and the project."""
        await self._clients.acquire(client)
        await self._projects.acquire(project_id)

    @staticmethod
    def retry_after(wait: float) -> str:
        """Return the ``Retry-After`` header value for a wait, in whole seconds (at least 1)."""
        return RateLimiter.retry_after(wait)
