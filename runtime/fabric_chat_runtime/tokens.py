"""The client's current token, and a provider that replaces it before it expires.

A token provider is any callable, sync or async, that returns a fresh subscriber token (your
backend mints it). The client asks it for a new token ``refresh_before`` seconds before the
current one expires (at most a third of the token's lifetime before), and again, once, when
the server refuses the current one. Only a token's ``exp`` and ``iat`` claims are read, never
verified: the server does that; no token ever reaches a log line or an error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from .errors import AuthenticationError, InvalidArgumentError

__all__ = ["TokenProvider", "TokenSource", "read_lifetime"]

logger = logging.getLogger("fabric_chat.tokens")

#: A callable that returns a fresh token: ``def`` or ``async def``, no arguments.
TokenProvider = Callable[[], str | Awaitable[str]]


class _Claims(msgspec.Struct):
    exp: float | None = None
    iat: float | None = None


_decode_claims = msgspec.json.Decoder(_Claims).decode


def read_lifetime(token: str) -> tuple[float | None, float | None]:
    """Return the token's ``(iat, exp)`` claims, each ``None`` when absent or unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    body = parts[1]
    try:
        claims = _decode_claims(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None, None
    return claims.iat, claims.exp


class TokenSource:
    """Holds the current token; refreshes it through the provider, one refresh at a time.

    Args:
        token: The first token; ``None`` asks the provider for it on first use.
        provider: Returns a fresh token (sync or async); ``None`` keeps ``token`` for good.
        refresh_before: Seconds before expiry to refresh (capped at a third of the lifetime).
        clock: Wall-clock seconds (``time.time``), injectable for tests.
    """

    def __init__(
        self,
        token: str | None,
        provider: TokenProvider | None = None,
        *,
        refresh_before: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if token is None and provider is None:
            raise InvalidArgumentError("give a token, a token_provider, or both")
        if provider is not None and not callable(provider):
            raise InvalidArgumentError("token_provider must be a callable that returns a token")
        self._token = token
        self._provider = provider
        self._refresh_before = refresh_before
        self._clock = clock
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[str], Awaitable[None]]] = []
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenSource(refreshable={self.refreshable}, refreshes={self.refreshes})"

    @property
    def refreshable(self) -> bool:
        """Whether a provider can replace the token."""
        return self._provider is not None

    @property
    def token(self) -> str | None:
        """The current token (``None`` before the provider gave the first one)."""
        return self._token

    def refresh_at(self) -> float | None:
        """Return when (wall clock) the current token should be replaced, or ``None``: never."""
        if self._provider is None or self._token is None:
            return None
        issued, expires = read_lifetime(self._token)
        if expires is None:
            return None
        margin = self._refresh_before
        if issued is not None and expires > issued:
            margin = min(margin, (expires - issued) / 3)
        return expires - margin

    def on_refresh(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Await ``listener(new_token)`` after each refresh (the socket reauthenticates)."""
        self._listeners.append(listener)

    async def current(self) -> str:
        """Return a token that is not about to expire, refreshing it first when it is."""
        token = self._token
        due = self.refresh_at()
        if token is None or (due is not None and self._clock() >= due):
            return await self.refresh(stale=token)
        return token

    async def refresh(self, *, stale: str | None = None) -> str:
        """Replace the token through the provider and tell the listeners; return the new one.

        Args:
            stale: The token the caller found wanting; when another caller already replaced
                it, that newer token is returned and the provider is not called again.

        Raises:
            AuthenticationError: No provider, or it failed or returned no usable token.
        """
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            if self._provider is None:
                raise AuthenticationError(
                    "the token expired or was refused, and no token_provider can renew it",
                    status=401,
                )
            try:
                answer = self._provider()
                if inspect.isawaitable(answer):
                    answer = await answer
            except Exception as exc:
                logger.warning("the token provider failed: %s", type(exc).__name__)
                raise AuthenticationError(
                    f"the token provider failed ({type(exc).__name__})", status=401
                ) from exc
            if not isinstance(answer, str) or not answer.strip():
                raise AuthenticationError("the token provider returned no token", status=401)
            self._token = answer
            self.refreshes += 1
            logger.info("refreshed the token (refresh %d)", self.refreshes)
            listeners = list(self._listeners)
        for listener in listeners:
            await listener(answer)
        return answer
