"""Per-caller request rate limits (token buckets)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]

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

    @staticmethod
    def retry_after(wait: float) -> str:
        """Return the ``Retry-After`` header value for a wait, in whole seconds (at least 1)."""
        return str(max(1, math.ceil(wait)))
