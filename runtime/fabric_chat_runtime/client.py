"""The base of the generated ``fabric_chat.Client``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType

from ._token import derive_endpoints
from .contract import Contract
from .engine import Engine
from .errors import InvalidArgumentError
from .retry import ReconnectPolicy, RetryPolicy
from .session import HeartbeatPolicy
from .state import ConnectionState
from .validation import require_seconds

__all__ = ["AGENT", "OPTIONS", "BaseClient"]


def _agent() -> str:
    # The one version is spec/chat.yaml's, as installed (pyproject reads it from fabric_chat).
    try:
        return f"fabric-chat-python/{version('fabric-chat')}"
    except PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
        return "fabric-chat-python/unknown"


#: The default ``agent`` sent on connect and as the HTTP ``User-Agent``.
AGENT = _agent()

#: Every keyword option :class:`BaseClient` accepts beyond its named parameters.
OPTIONS = frozenset(
    {"retry", "reconnect", "heartbeat", "ping_timeout", "connect_timeout", "session", "agent"}
)


def _typed(name: str, value: object, cls: type, default: object) -> object:
    if value is None:
        return default
    if not isinstance(value, cls):
        raise InvalidArgumentError(f"{name} must be a {cls.__name__}, not {type(value).__name__}")
    return value


class BaseClient:
    """Owns the engine (HTTP session, socket, caches) of one client.

    SEAM (frozen): the generated ``Client.__init__`` calls
    ``super().__init__(token=token, contract=CONTRACT, base_url=base_url, ws_url=ws_url,
    timeout=timeout, **options)`` and then builds its namespaces from ``self._engine``.
    URLs are derived from the token's ``ch`` header when omitted.

    Options (keyword only):
        retry: A :class:`RetryPolicy` for HTTP calls (default: 4 attempts, 0.25 s doubling
            to 8 s, half jitter, ``Retry-After`` honoured up to 60 s).
        reconnect: A :class:`ReconnectPolicy` for the socket (default 0.1 s doubling to 3 s,
            half jitter).
        heartbeat: A :class:`HeartbeatPolicy` (silence before a probe, probe wait, clock).
        ping_timeout: Shorthand for ``HeartbeatPolicy(ping_timeout=...)`` (default 15 s).
        connect_timeout: Seconds for the socket upgrade and ``signalwire.connect`` (10 s).
        session: An ``aiohttp.ClientSession`` to use; the caller keeps owning it.
        agent: The ``agent`` sent on connect and the HTTP ``User-Agent``.
    """

    _engine: Engine

    def __init__(
        self,
        *,
        token: str,
        contract: Contract,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float = 30.0,
        **options: object,
    ) -> None:
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise InvalidArgumentError(f"unknown option(s): {', '.join(unknown)}")
        if not isinstance(token, str) or not token.strip():
            raise InvalidArgumentError("token must be a non-empty str")
        for name, url in (("base_url", base_url), ("ws_url", ws_url)):
            if url is not None and not isinstance(url, str):
                raise InvalidArgumentError(f"{name} must be a str")
        endpoints = derive_endpoints(token, base_url=base_url, ws_url=ws_url)
        heartbeat = _typed("heartbeat", options.get("heartbeat"), HeartbeatPolicy, None)
        if heartbeat is None:
            ping_timeout = options.get("ping_timeout")
            heartbeat = HeartbeatPolicy(
                ping_timeout=15.0
                if ping_timeout is None
                else require_seconds("ping_timeout", ping_timeout)
            )
        connect_timeout = options.get("connect_timeout")
        agent = options.get("agent", AGENT)
        if not isinstance(agent, str):
            raise InvalidArgumentError("agent must be a str")
        self._engine = Engine(
            contract=contract,
            token=token,
            base_url=endpoints.base_url,
            ws_url=endpoints.ws_url,
            timeout=require_seconds("timeout", timeout),
            retry=_typed("retry", options.get("retry"), RetryPolicy, RetryPolicy()),  # type: ignore[arg-type]
            reconnect=_typed(  # type: ignore[arg-type]
                "reconnect", options.get("reconnect"), ReconnectPolicy, ReconnectPolicy()
            ),
            heartbeat=heartbeat,  # type: ignore[arg-type]
            connect_timeout=10.0
            if connect_timeout is None
            else require_seconds("connect_timeout", connect_timeout),
            agent=agent,
            session=options.get("session"),
        )

    def __repr__(self) -> str:
        engine = self._engine
        return (
            f"{type(self).__name__}(base_url={engine.base_url!r}, ws_url={engine.ws_url!r}, "
            f"state={engine.state.value!r})"
        )

    async def __aenter__(self) -> BaseClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel every subscription and close the socket and HTTP session; idempotent."""
        await self._engine.aclose()

    @property
    def state(self) -> ConnectionState:
        """The socket's connection state (``idle`` until the first subscription).

        ``failed`` once the server refused the token: the socket stays down, every subscription
        has ended and a later ``subscribe`` raises ``AuthenticationError``.
        """
        return self._engine.state

    def on_state_change(self, callback: Callable[[ConnectionState], object]) -> Callable[[], None]:
        """Call ``callback(state)`` on every connection state change.

        Returns:
            A function that stops the callbacks.
        """
        return self._engine.states.on_change(callback)

    def states(self) -> AsyncIterator[ConnectionState]:
        """Yield the current connection state, then every change, until the client closes."""
        return self._engine.states.changes()
