"""The bases of the generated clients: a subscriber's and a project's.

:class:`BaseClient` is the base of ``fabric_chat.AsyncClient`` (the sync ``Client`` wraps one):
a subscriber token, the engine, its socket and HTTP session. :class:`BaseProjectClient` is the
base of ``fabric_chat.project.ProjectClient``: a project (its id and API token, sent as HTTP
Basic) mints subscriber tokens and creates addresses; the spec marks those operations
``auth: basic`` and the generated class has one method each, which calls
:meth:`BaseProjectClient._call` with the route's operation id.
"""

# The project client's generated methods take a per-call ``timeout`` (seconds) by design.
# ruff: noqa: ASYNC109

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import urlsplit

import msgspec

from . import errors
from .contract import Contract, decoder, encode
from .engine import Engine
from .errors import InvalidArgumentError
from .retry import HeartbeatPolicy, ReconnectPolicy, RetryPolicy, parse_retry_after
from .state import ConnectionState
from .tokens import TokenProvider, TokenSource, derive_endpoints
from .transport import Transport
from .validation import require_seconds

__all__ = ["AGENT", "BaseClient", "BaseProjectClient", "Timeout"]

T = TypeVar("T")


def _agent() -> str:
    # The one version is spec/chat.yaml's, as installed (pyproject reads it from fabric_chat).
    try:
        return f"fabric-chat-python/{version('fabric-chat')}"
    except PackageNotFoundError:  # pragma: no cover - running from a tree that is not installed
        return "fabric-chat-python/unknown"


#: The default ``agent`` sent on connect and as the HTTP ``User-Agent``.
AGENT = _agent()


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to wait, as httpx splits them: the whole call, and its connect and read parts.

    Attributes:
        total: The whole call (each attempt), and the default of every call's ``timeout=``.
        connect: Connecting to the server (TCP, TLS, the socket upgrade); ``None``: ``total``.
        read: Waiting for the next bytes of an answer; ``None``: ``total``.
    """

    total: float = 30.0
    connect: float | None = None
    read: float | None = None

    def __post_init__(self) -> None:
        require_seconds("timeout.total", self.total)
        for name in ("connect", "read"):
            value = getattr(self, name)
            if value is not None:
                require_seconds(f"timeout.{name}", value)


def _typed(name: str, value: object, cls: type) -> None:
    if value is not None and not isinstance(value, cls):
        raise InvalidArgumentError(f"{name} must be a {cls.__name__}, not {type(value).__name__}")


class BaseClient:
    """Owns the engine (HTTP session, socket, caches) of one client.

    The generated ``AsyncClient.__init__`` passes its typed options on, with
    ``contract=CONTRACT``, then binds its namespaces to ``self._engine`` in ``_bind``, which
    :meth:`with_options` calls again for a derived client. URLs are derived from the token's
    ``ch`` header when omitted.
    """

    _engine: Engine
    _owns_engine: bool = True
    _engine_class: type[Engine] = Engine
    """The engine the spec's methods call: the runtime's, or a package's subclass of it."""

    def __init__(
        self,
        *,
        contract: Contract,
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        base_url: str | None = None,
        ws_url: str | None = None,
        timeout: float | Timeout = 30.0,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        reconnect: ReconnectPolicy | None = None,
        heartbeat: HeartbeatPolicy | None = None,
        ping_timeout: float | None = None,
        connect_timeout: float | None = None,
        session: object | None = None,
        connector: object | None = None,
        trust_env: bool = True,
        agent: str | None = None,
    ) -> None:
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise InvalidArgumentError("token must be a non-empty str")
        for name, url, schemes in (
            ("base_url", base_url, ("http", "https")),
            ("ws_url", ws_url, ("ws", "wss", "http", "https")),
        ):
            if url is not None and not isinstance(url, str):
                raise InvalidArgumentError(f"{name} must be a str")
            if url is not None and (
                urlsplit(url).scheme.lower() not in schemes or not urlsplit(url).netloc
            ):
                wanted = " or ".join(f"{scheme}://" for scheme in schemes)
                raise InvalidArgumentError(f"{name} must be a URL starting with {wanted}")
        _typed("retry", retry, RetryPolicy)
        _typed("reconnect", reconnect, ReconnectPolicy)
        _typed("heartbeat", heartbeat, HeartbeatPolicy)
        if agent is not None and not isinstance(agent, str):
            raise InvalidArgumentError("agent must be a str")
        tokens = TokenSource(token, token_provider)
        if token is None:
            if base_url is None or ws_url is None:
                raise InvalidArgumentError(
                    "without a token, give base_url and ws_url (the token names the server)"
                )
            endpoints = derive_endpoints("", base_url=base_url, ws_url=ws_url)
        else:
            endpoints = derive_endpoints(token, base_url=base_url, ws_url=ws_url)
        limits = (
            timeout
            if isinstance(timeout, Timeout)
            else Timeout(require_seconds("timeout", timeout))
        )
        policy = retry if retry is not None else RetryPolicy()
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise InvalidArgumentError("max_retries must be an int >= 0")
            policy = replace(policy, max_attempts=max_retries + 1)
        if heartbeat is None:
            heartbeat = HeartbeatPolicy(
                ping_timeout=15.0
                if ping_timeout is None
                else require_seconds("ping_timeout", ping_timeout)
            )
        if connect_timeout is None:
            connect_timeout = limits.connect if limits.connect is not None else 10.0
        self._engine = self._engine_class(
            contract=contract,
            tokens=tokens,
            base_url=endpoints.base_url,
            ws_url=endpoints.ws_url,
            timeout=limits.total,
            read_timeout=limits.read,
            retry=policy,
            reconnect=reconnect if reconnect is not None else ReconnectPolicy(),
            heartbeat=heartbeat,
            connect_timeout=require_seconds("connect_timeout", connect_timeout),
            agent=AGENT if agent is None else agent,
            session=session,
            connector=connector,
            trust_env=trust_env,
        )
        self._bind(self._engine)

    def _bind(self, engine: Engine) -> None:
        """Bind the namespaces to ``engine`` (the generated client does)."""

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """Return a client that shares this one's connection, with other call defaults.

        ``client.with_options(timeout=5).chat.get_messages(...)`` for one call, or keep the
        derived client. It shares the socket, the caches and the token; closing it does
        nothing, closing this one closes both.

        Args:
            timeout: Seconds for each call that takes no ``timeout``; ``None``: unchanged.
            max_retries: Retries after a failed attempt; ``None``: unchanged.

        Raises:
            InvalidArgumentError: A value is out of range.
        """
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise InvalidArgumentError("max_retries must be an int >= 0")
        derived = copy.copy(self)
        derived._engine = self._engine.derive(
            timeout=None if timeout is None else require_seconds("timeout", timeout),
            max_attempts=None if max_retries is None else max_retries + 1,
        )
        derived._owns_engine = False
        derived._bind(derived._engine)
        return derived

    def __repr__(self) -> str:
        engine = self._engine
        return (
            f"{type(self).__name__}(base_url={engine.base_url!r}, ws_url={engine.ws_url!r}, "
            f"state={engine.states.state.value!r})"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel every subscription and close the socket and HTTP session; idempotent.

        A client from :meth:`with_options` owns nothing: closing it does nothing.
        """
        if self._owns_engine:
            await self._engine.aclose()

    @property
    def state(self) -> ConnectionState:
        """The socket's connection state (``idle`` until the first subscription).

        ``failed`` once the server refused the token: the socket stays down, every subscription
        has ended and a later ``subscribe`` raises ``AuthenticationError``.
        """
        return self._engine.states.state

    def on_state_change(self, callback: Callable[[ConnectionState], object]) -> Callable[[], None]:
        """Call ``callback(state)`` on every connection state change.

        Returns:
            A function that stops the callbacks.
        """
        return self._engine.states.on_change(callback)

    def states(self) -> AsyncIterator[ConnectionState]:
        """Yield the current connection state, then every change, until the client closes."""
        return self._engine.states.changes()


class BaseProjectClient:
    """Owns one HTTP session authenticated with a project's id and API token.

    ``async with ProjectClient(project_id=..., project_token=...) as project:``; the token
    never appears in a repr, a log line or an error.
    """

    def __init__(
        self,
        *,
        contract: Contract,
        project_id: str,
        project_token: str,
        base_url: str,
        timeout: float = 30.0,
        connector: object | None = None,
    ) -> None:
        if not project_id or not project_token:
            raise errors.InvalidArgumentError("project_id and project_token are required")
        if contract.vocabulary is None:
            raise errors.InvalidArgumentError("the contract has no wire vocabulary")
        require_seconds("timeout", timeout)
        self._contract = contract
        self._read_error = contract.vocabulary.read_error
        self.project_id = project_id
        self._authorization = self.authorization(project_id, project_token)
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = Transport(user_agent=AGENT, connector=connector)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, project_id={self.project_id!r})"

    @staticmethod
    def authorization(project_id: str, project_token: str) -> str:
        """Return the ``Authorization`` header value of a project's credentials (HTTP Basic).

        The one place the header is made: for a raw request with the same credentials (a test's,
        say). It holds the token: keep it out of logs.
        """
        pair = f"{project_id}:{project_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session; idempotent."""
        await self._transport.aclose()

    async def _call(
        self, operation_id: str, body: object, result_type: type[T], timeout: float | None
    ) -> T:
        """Call one route of the contract with the project's credentials; decode its answer.

        Raises:
            APIStatusError: The server answered with an error status (its subclass by status).
            APIConnectionError: The server could not be reached (or timed out).
            ProtocolError: The answer is not a ``result_type``.
        """
        route = self._contract.route(operation_id)
        answer = await self._transport.request(
            route.method,
            self.base_url + route.expand(),
            headers={"Authorization": self._authorization, "Content-Type": "application/json"},
            body=encode(body),
            timeout=self._timeout if timeout is None else timeout,
        )
        if answer.status >= 400:
            retry_after = parse_retry_after(answer.headers.get("retry-after"))
            detail = self._read_error(answer.body)
            raise errors.error_from_response(answer.status, detail, retry_after)
        try:
            value: T = decoder(result_type).decode(answer.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise errors.ProtocolError(f"unexpected answer to {operation_id}: {exc}") from None
        return value
