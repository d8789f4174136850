"""The one seam to the network: wraps ``aiohttp`` and turns its exceptions into the SDK's.

No other module of the runtime imports ``aiohttp``.
"""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import aiohttp
import aiohttp.helpers
from yarl import URL

from . import errors

__all__ = ["HttpConnector", "HttpResponse", "HttpSession", "Transport", "WebSocket"]

#: The aiohttp types a client may be given (``session=``, ``connector=``), named here so that
#: only this module imports aiohttp.
HttpSession = aiohttp.ClientSession
HttpConnector = aiohttp.BaseConnector

logger = logging.getLogger("fabric_chat.transport")

_TIMEOUTS = (builtins.TimeoutError, aiohttp.ServerTimeoutError)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A status, its headers (lower-case names) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class WebSocket:
    """One open WebSocket: text frames in and out."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._send_lock = asyncio.Lock()

    async def send(self, text: bytes) -> None:
        """Send one text frame whose UTF-8 JSON is ``text`` (as msgspec encodes it).

        Raises:
            ConnectionError: The socket is closed or the write failed.
        """
        try:
            async with self._send_lock:
                await self._ws.send_frame(text, aiohttp.WSMsgType.TEXT)
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            raise errors.ConnectionError("the socket is closed") from exc

    async def receive(self) -> str | bytes | None:
        """Return the next text or binary frame, or ``None`` once the socket is closed."""
        while True:
            try:
                message = await self._ws.receive()
            except (aiohttp.ClientError, OSError, RuntimeError) as exc:
                logger.debug("socket receive failed: %s", type(exc).__name__)
                return None
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data: str | bytes = message.data
                return data
            if message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            ):
                return None

    async def close(self) -> None:
        """Close the socket; never raises."""
        try:
            await self._ws.close()
        except (aiohttp.ClientError, OSError, RuntimeError):  # pragma: no cover - best effort
            logger.debug("socket close failed")


class Transport:
    """HTTP requests and WebSocket connects over one ``aiohttp.ClientSession``.

    The session is created on first use (inside the running loop) unless one is given, in
    which case the caller keeps owning it and :meth:`aclose` leaves it open.
    """

    def __init__(
        self,
        *,
        session: object | None = None,
        user_agent: str,
        connector: object | None = None,
        trust_env: bool = True,
        read_timeout: float | None = None,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise errors.InvalidArgumentError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        if connector is not None and not isinstance(connector, aiohttp.BaseConnector):
            raise errors.InvalidArgumentError(
                f"connector must be an aiohttp.BaseConnector, not {type(connector).__name__}"
            )
        if session is not None and connector is not None:
            raise errors.InvalidArgumentError("give a session or a connector, not both")
        self._session: aiohttp.ClientSession | None = session
        self._owned = session is None
        self._user_agent = user_agent
        self._connector = connector
        self._trust_env = trust_env
        self._read_timeout = read_timeout
        self._closed = False
        self._env: dict[str, _Environment] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._closed:
            raise errors.ClientClosedError("the HTTP session is closed")
        if self._session is None:
            # trust_env: HTTP(S)_PROXY, NO_PROXY and .netrc are honoured, as in httpx, read
            # once per origin (_env_options) rather than by aiohttp on every request, which
            # costs two thread hops per call.
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent},
                timeout=aiohttp.ClientTimeout(total=None, sock_read=self._read_timeout),
                connector=self._connector,
                trust_env=False,
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float,
    ) -> HttpResponse:
        """Send one request and read its whole answer.

        Raises:
            ClientClosedError: The HTTP session is closed (e.g. :meth:`aclose` raced the call).
            ConnectionError: The server could not be reached or dropped the connection.
            TimeoutError: No whole answer within ``timeout`` seconds.
        """
        session = self._client()
        try:
            async with asyncio.timeout(timeout):
                env = await self._environment(url)
                async with session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    data=body,
                    proxy=env.proxy,
                    proxy_auth=env.proxy_auth,
                    auth=None if headers and "Authorization" in headers else env.auth,
                ) as response:
                    payload = await response.read()
                    names = {key.lower(): value for key, value in response.headers.items()}
                    return HttpResponse(response.status, MappingProxyType(names), payload)
        except _TIMEOUTS as exc:
            raise errors.TimeoutError(
                f"{method} {_where(url)} timed out after {timeout:g}s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.ConnectionError(f"{method} {_where(url)} failed: {_reason(exc)}") from exc
        except RuntimeError as exc:
            # aiohttp's "Session is closed": aclose() raced the call, or the caller closed the
            # session it handed in.
            if session.closed:
                raise errors.ClientClosedError("the HTTP session is closed") from exc
            raise  # pragma: no cover - not about a closed session: not ours to translate

    async def ws_connect(self, url: str, *, timeout: float) -> WebSocket:
        """Open a WebSocket.

        Raises:
            APIError: The server refused the upgrade with an HTTP error status.
            ClientClosedError: The HTTP session is closed.
            ConnectionError: The server could not be reached.
            TimeoutError: The upgrade took longer than ``timeout`` seconds.
        """
        session = self._client()
        try:
            async with asyncio.timeout(timeout):
                env = await self._environment(url)
                ws = await session.ws_connect(
                    url,
                    autoping=True,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
                    max_msg_size=16 * 1024 * 1024,
                    proxy=env.proxy,
                    proxy_auth=env.proxy_auth,
                    auth=env.auth,
                )
        except aiohttp.WSServerHandshakeError as exc:
            cls = errors.error_for_status(exc.status)
            raise cls(f"socket upgrade refused by {_where(url)}", status=exc.status) from exc
        except _TIMEOUTS as exc:
            raise errors.TimeoutError(f"socket connect to {_where(url)} timed out") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise errors.ConnectionError(
                f"socket connect to {_where(url)} failed: {_reason(exc)}"
            ) from exc
        except RuntimeError as exc:
            # aiohttp's "Session is closed": aclose() raced the call, or the caller closed the
            # session it handed in.
            if session.closed:
                raise errors.ClientClosedError("the HTTP session is closed") from exc
            raise  # pragma: no cover - not about a closed session: not ours to translate
        return WebSocket(ws)

    async def _environment(self, url: str) -> _Environment:
        """Return the proxy and .netrc auth the environment names for ``url``'s origin.

        Read once per origin, in a thread (a proxy lookup may block), when ``trust_env`` holds
        and the session is this transport's own; nothing otherwise.
        """
        if not self._trust_env or not self._owned:
            return _NO_ENVIRONMENT
        target = URL(url)
        origin = str(target.origin())
        found = self._env.get(origin)
        if found is None:
            found = self._env[origin] = await asyncio.to_thread(_read_environment, target)
        return found

    async def aclose(self) -> None:
        """Close the session if this transport created it; later calls raise ClientClosedError."""
        self._closed = True
        if self._session is not None and self._owned:
            await self._session.close()
        self._session = None


def _reason(exc: BaseException) -> str:
    """Say why a connection failed ("connection refused"), from the OS error when there is one.

    Only the OS's words and the exception's class are used: aiohttp's own message can quote
    request details, and nothing here may carry a header (the token travels in one).
    """
    os_error = getattr(exc, "os_error", exc)
    code = getattr(os_error, "errno", None)
    strerror = os.strerror(code) if isinstance(code, int) else getattr(os_error, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return f"{strerror.lower()} ({type(exc).__name__})"
    return type(exc).__name__


def _where(url: str) -> str:
    """Return the URL without its query (page tokens are not for messages)."""
    return url.split("?", 1)[0]


@dataclass(frozen=True, slots=True)
class _Environment:
    """What the environment says about one origin: its proxy and its .netrc credentials."""

    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None
    auth: aiohttp.BasicAuth | None = None


_NO_ENVIRONMENT = _Environment()


def _read_environment(url: URL) -> _Environment:
    """Read ``HTTP(S)_PROXY`` / ``NO_PROXY`` and ``.netrc`` for ``url``, as aiohttp would."""
    proxy: URL | None = None
    proxy_auth: aiohttp.BasicAuth | None = None
    auth: aiohttp.BasicAuth | None = None
    with contextlib.suppress(LookupError):
        proxy, proxy_auth = aiohttp.helpers.get_env_proxy_for_url(url)
    netrc = aiohttp.helpers.netrc_from_env() if url.host is not None else None
    if netrc is not None and url.host is not None:
        with contextlib.suppress(LookupError):
            auth = aiohttp.helpers.basicauth_from_netrc(netrc, url.host)
    return _Environment(proxy, proxy_auth, auth)
