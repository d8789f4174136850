"""Per-caller request rate limits and failed-login throttling (token buckets)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["LoginGuard", "RateLimiter"]

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
    """

    def __init__(
        self,
        *,
        rate: float = 0.5,
        burst: int = 10,
        project_rate: float = 5.0,
        project_burst: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = RateLimiter(rate, burst, clock=clock)
        self._projects = RateLimiter(project_rate, project_burst, clock=clock)

    def wait(self, client: str, project_id: str) -> float:
        """Return ``0.0`` when a login may be tried now, else the seconds to wait."""
        return max(self._clients.peek(client), self._projects.peek(project_id))

    def failed(self, client: str, project_id: str) -> None:
        """Count one failed login against the client address and the project."""
        self._clients.check(client)
        self._projects.check(project_id)

    @staticmethod
    def retry_after(wait: float) -> str:
        """Return the ``Retry-After`` header value for a wait, in whole seconds (at least 1)."""
        return RateLimiter.retry_after(wait)
