"""The client's policies: HTTP retries, socket reconnects and the heartbeat.

Each takes injectable sleep, random and clock functions, so tests assert tables of delays.

A request that carries an :data:`IDEMPOTENCY_KEY_HEADER` (the same key on every attempt) is
retried even after a timeout: the server answers a repeat with its first answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .errors import InvalidArgumentError

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "HeartbeatPolicy",
    "ReconnectPolicy",
    "RetryPolicy",
    "parse_retry_after",
]

#: The request header whose key lets the server answer a repeated request with its first answer.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]


def _check(name: str, value: float, *, minimum: float = 0.0) -> None:
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be at least {minimum}, not {value}")


def _jittered(base: float, cap: float, jitter: float, attempt: int, rnd: Random) -> float:
    """Return ``min(cap, base * 2**attempt)`` scaled down by up to ``jitter`` (0..1)."""
    delay = min(cap, base * (2.0 ** min(attempt, 62)))
    return delay * (1.0 - jitter * rnd())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How HTTP calls are retried.

    Connection errors, 5xx and 429 answers are retried, never other 4xx. The delay before
    retry ``n`` (0-based) is ``min(cap, base * 2**n)`` less up to ``jitter`` of itself, and
    never less than the server's ``Retry-After`` (itself capped by ``max_retry_after``).

    Attributes:
        max_attempts: Attempts in all, the first included (1 means no retry).
        base: The first delay, in seconds.
        cap: The longest backoff delay, in seconds.
        jitter: The fraction (0..1) of each delay that is randomised away.
        max_retry_after: The longest ``Retry-After`` honoured, in seconds.
        sleep: Awaited with each delay (tests inject a recorder).
        random: Returns a float in [0, 1) (tests inject a constant).
    """

    max_attempts: int = 4
    base: float = 0.25
    cap: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    sleep: Sleep = field(default=asyncio.sleep, repr=False, compare=False)
    random: Random = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check("max_attempts", self.max_attempts, minimum=1)
        _check("base", self.base)
        _check("cap", self.cap)
        _check("max_retry_after", self.max_retry_after)
        if not 0.0 <= self.jitter <= 1.0:
            raise InvalidArgumentError(f"jitter must be in 0..1, not {self.jitter}")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Return the seconds to wait before retry number ``retry`` (0-based)."""
        backoff = _jittered(self.base, self.cap, self.jitter, retry, self.random)
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, self.max_retry_after))


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How the socket is reopened after it drops: jittered exponential backoff, no end.

    The backoff starts over only once a connection has stayed up for at least ``cap`` seconds,
    so a server that accepts and drops at once sees the delays grow, not a reconnect every
    ``base`` seconds.

    Attributes:
        base: The first delay, in seconds (100 ms, like the current official client).
        cap: The longest delay, in seconds; also how long a connection must last to reset the
            backoff.
        jitter: The fraction (0..1) of each delay that is randomised away.
        sleep: Awaited with each delay.
        random: Returns a float in [0, 1).
        clock: A monotonic clock in seconds (how long a connection lasted).
    """

    base: float = 0.1
    cap: float = 3.0
    jitter: float = 0.5
    sleep: Sleep = field(default=asyncio.sleep, repr=False, compare=False)
    random: Random = field(default=_random.random, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check("base", self.base)
        _check("cap", self.cap)
        if not 0.0 <= self.jitter <= 1.0:
            raise InvalidArgumentError(f"jitter must be in 0..1, not {self.jitter}")

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait before reconnect attempt ``attempt`` (0-based)."""
        return _jittered(self.base, self.cap, self.jitter, attempt, self.random)


@dataclass(frozen=True, slots=True)
class HeartbeatPolicy:
    """When a silent socket is probed and dropped.

    Attributes:
        ping_timeout: Seconds without any frame (pings included) before a probe.
        probe_timeout: Seconds the probe waits for any frame before the socket is dropped.
        clock: A monotonic clock in seconds.
        sleep: Awaited by the watchdog.
    """

    ping_timeout: float = 15.0
    probe_timeout: float = 5.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.ping_timeout <= 0 or self.probe_timeout <= 0:
            raise InvalidArgumentError("ping_timeout and probe_timeout must be positive")


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Return a ``Retry-After`` header's delay in seconds (delta or HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
