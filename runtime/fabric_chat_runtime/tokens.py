"""The subscriber token: the service URLs its header names, and its refresh before it expires.

Only a token's header (its ``ch``: where the client connects) and its ``exp`` and ``iat`` claims
are read, never verified: the server does that; no token ever reaches a log line or an error.

A token provider is any callable, sync or async, that returns a fresh subscriber token (your
backend mints it). The client asks it for a new token ``refresh_before`` seconds before the
current one expires (at most a third of the token's lifetime before), and again, once, when
the server refuses the current one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

from .errors import AuthenticationError, InvalidArgumentError

__all__ = [
    "Endpoints",
    "TokenProvider",
    "TokenSource",
    "derive_endpoints",
    "read_channel",
    "read_lifetime",
]

logger = logging.getLogger("fabric_chat.tokens")

#: A callable that returns a fresh token: ``def`` or ``async def``, no arguments.
TokenProvider = Callable[[], str | Awaitable[str]]

#: The host a token without a ``ch`` header talks to.
DEFAULT_HOST = "relay.signalwire.com"


class _Header(msgspec.Struct):
    ch: str | None = None
    typ: str | None = None


class _Claims(msgspec.Struct):
    exp: float | None = None
    iat: float | None = None


_decode_header = msgspec.json.Decoder(_Header).decode
_decode_claims = msgspec.json.Decoder(_Claims).decode


def _unbase64(segment: str) -> bytes:
    """Decode one base64url segment of a JWT (its padding restored)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where one client talks HTTP and where it opens its socket."""

    base_url: str
    ws_url: str


def read_channel(token: str) -> str | None:
    """Return the ``ch`` of the token's JWT header, or ``None`` when it has none.

    Only the header is base64url-decoded; the signature is the server's business.

    Raises:
        InvalidArgumentError: The token is not a JWT with a JSON header.
    """
    try:
        return _decode_header(_unbase64(token.split(".", 1)[0])).ch
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidArgumentError("token is not a JWT with a readable header") from None


def _ws_from_channel(channel: str) -> str:
    if channel.startswith(("ws://", "wss://")):
        return channel
    return "wss://" + channel.strip("/")


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _http_from_ws(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    host = parts.hostname or DEFAULT_HOST
    scheme = "http" if parts.scheme == "ws" else "https"
    if parts.port is not None or _is_local(host):
        return f"{scheme}://{parts.netloc}"
    labels = host.split(".")
    rest = ".".join(labels[1:]) if len(labels) > 2 else host
    return f"https://fabric.{rest}"


def derive_endpoints(token: str, *, base_url: str | None, ws_url: str | None) -> Endpoints:
    """Return the HTTP base URL and WebSocket URL, taking explicit ones first.

    Args:
        token: The SAT; its header's ``ch`` fills in whatever is not given.
        base_url: An explicit HTTP base URL, e.g. ``http://127.0.0.1:8787``.
        ws_url: An explicit WebSocket URL, e.g. ``ws://127.0.0.1:8787``.

    Raises:
        InvalidArgumentError: A URL is needed and the token does not say it.
    """
    if base_url is not None and ws_url is not None:
        return Endpoints(base_url.rstrip("/"), ws_url)
    channel = read_channel(token) or DEFAULT_HOST
    socket = ws_url if ws_url is not None else _ws_from_channel(channel)
    http = base_url if base_url is not None else _http_from_ws(_ws_from_channel(channel))
    return Endpoints(http.rstrip("/"), socket)


def read_lifetime(token: str) -> tuple[float | None, float | None]:
    """Return the token's ``(iat, exp)`` claims, each ``None`` when absent or unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None
    try:
        claims = _decode_claims(_unbase64(parts[1]))
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
