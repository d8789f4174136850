"""The generic engine behind the generated namespaces.

Every generated method validates its arguments and then makes exactly one call to a method of
the engine its spec names, passing the generated struct type it wants back. This class knows no
schema: it calls the contract's routes (:meth:`Engine.request`, :meth:`Engine.page`), reads a
feed's history and follows its live events (the ``listMessages`` route and the vocabulary's
message events, every message as it is). A package adds its own semantics by subclassing it
(``fabric_chat.lib.chat.ChatEngine``: joins, sends, chat views) with the building blocks below
(:meth:`Engine.history_pages`, :meth:`Engine.open_feed`, :meth:`Engine.route_path`).
"""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeVar

import msgspec

from . import errors
from ._history import HistoryReader, PlainPages, first_url
from ._http import HttpClient
from ._subscription_registry import SubscriptionRegistry
from ._tasks import TaskOwner
from .contract import Contract, Vocabulary, decoder, encode
from .message_view import ALL_MESSAGES, FeedView
from .pagination import Page
from .retry import ReconnectPolicy, RetryPolicy
from .session import HeartbeatPolicy, SocketSession
from .state import ConnectionState, StateWatch
from .subscriptions import MessageStream, Subscription
from .tokens import TokenSource
from .transport import Transport

__all__ = ["Engine"]

logger = logging.getLogger("fabric_chat.engine")

T = TypeVar("T", bound=msgspec.Struct)


_PATH_PARAM = re.compile(r"\{(\w+)\}")


def _query_strings(query: Mapping[str, str | int | float | bool | None] | None) -> dict[str, str]:
    """Return query parameters as strings (booleans as ``true`` / ``false``), Nones left out."""
    result: dict[str, str] = {}
    for key, value in (query or {}).items():
        if value is not None:
            result[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return result


def _without_nulls(body: object) -> object:
    """Return a mapping body as a dict without its None values; any other body as it is."""
    if isinstance(body, Mapping):
        return {
            key: dict(value) if isinstance(value, Mapping) else value
            for key, value in body.items()
            if value is not None
        }
    return body


def _decode_as(result_type: type[T], body: bytes) -> T:
    try:
        value: T = decoder(result_type).decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise errors.ProtocolError(f"unexpected answer: {exc}") from None
    return value


class Engine:
    """Transport, socket session, feeds and the contract's routes for one client (no schema)."""

    def __init__(
        self,
        *,
        contract: Contract,
        tokens: TokenSource,
        base_url: str,
        ws_url: str,
        timeout: float,
        retry: RetryPolicy,
        reconnect: ReconnectPolicy,
        heartbeat: HeartbeatPolicy,
        connect_timeout: float,
        agent: str,
        read_timeout: float | None = None,
        session: object | None = None,
        connector: object | None = None,
        trust_env: bool = True,
    ) -> None:
        self._contract = contract
        if contract.vocabulary is None:
            raise errors.InvalidArgumentError("the contract has no wire vocabulary")
        vocabulary: Vocabulary = contract.vocabulary
        self.tokens = tokens
        self._transport = Transport(
            session=session,
            user_agent=agent,
            connector=connector,
            trust_env=trust_env,
            read_timeout=read_timeout,
        )
        self.states = StateWatch()
        self._http = HttpClient(
            self._transport,
            base_url=base_url,
            tokens=tokens,
            retry=retry,
            timeout=timeout,
            is_closed=lambda: self.closed,
            vocabulary=vocabulary,
        )
        self._tasks = TaskOwner()
        self._subscriptions = SubscriptionRegistry(
            self._http, self._tasks, reconnect, message_events=vocabulary.message_events
        )
        self.socket = SocketSession(
            self._transport,
            vocabulary=vocabulary,
            ws_url=ws_url,
            tokens=tokens,
            agent=agent,
            sink=self._subscriptions,
            state=self.states,
            reconnect=reconnect,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
        )
        self.base_url = base_url
        self.ws_url = ws_url
        self._refresher: object | None = None
        tokens.on_refresh(self.socket.reauthenticate)

    def __repr__(self) -> str:
        return f"Engine(base_url={self.base_url!r}, ws_url={self.ws_url!r})"

    def derive(self, *, timeout: float | None, max_attempts: int | None) -> Engine:
        """Return an engine that shares everything of this one but the HTTP call defaults."""
        derived = copy.copy(self)
        derived._http = self._http.derive(timeout=timeout, max_attempts=max_attempts)
        return derived

    async def _keep_token_fresh(self) -> None:
        """Refresh the token before it expires, for as long as the client lives.

        The socket swaps it in with ``signalwire.reauthenticate`` (a listener of the source).
        """
        tokens = self.tokens
        while True:
            due = tokens.refresh_at()
            if due is None:
                return
            await asyncio.sleep(max(0.0, due - time.time()))
            try:
                await tokens.refresh(stale=tokens.token)
            except errors.AuthenticationError as exc:
                logger.warning("token refresh failed: %s; trying again in 1s", exc.message)
                await asyncio.sleep(1.0)

    async def _start_refresher(self) -> None:
        if self._refresher is None and self.tokens.refreshable:
            self._refresher = await self._tasks.spawn(
                self._keep_token_fresh(), name="fabric-chat-token-refresh"
            )

    def _check_open(self) -> None:
        if self.closed:
            raise errors.ClientClosedError("the client is closed")
        self._tasks.raise_if_failed()

    @property
    def contract(self) -> Contract:
        """The contract whose routes this engine calls."""
        return self._contract

    def route_path(self, operation_id: str, value: str | None = None) -> str:
        """Return a route's path, its one path parameter (if any) set to ``value``."""
        route = self._contract.route(operation_id)
        names = _PATH_PARAM.findall(route.path)
        if value is None or not names:
            return route.expand()
        return route.expand({names[0]: value})

    # REST.

    async def request(
        self,
        operation_id: str,
        *,
        result_type: type[T],
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int | float | bool | None] | None = None,
        headers: Mapping[str, str | None] | None = None,
        body: object = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        """Call one route of the contract and decode its answer into ``result_type``.

        Query parameters and headers whose value is None are left out; a mapping ``body`` is
        sent without its None-valued keys.
        """
        self._check_open()
        route = self._contract.route(operation_id)
        answer = await self._http.call(
            route.method,
            route.expand(path),
            params=_query_strings(query) or None,
            headers={key: value for key, value in (headers or {}).items() if value is not None},
            body=None if body is None else encode(_without_nulls(body)),
            timeout=timeout,
            idempotency_key=idempotency_key,
        )
        return _decode_as(result_type, answer)

    async def page(
        self,
        operation_id: str,
        *,
        item_type: type[T],
        page_size: int | None = None,
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int | float | bool | None] | None = None,
        timeout: float | None = None,
    ) -> Page[T]:
        """Fetch the first page of a paged route (e.g. ``listConversations``)."""
        self._check_open()
        route = self._contract.route(operation_id)
        params = _query_strings(query)
        if page_size is not None:
            params["page_size"] = str(page_size)
        pages: PlainPages[T] = PlainPages(self._http, item_type, timeout)
        return await pages.read(first_url(self._http, route.expand(path), params))

    # Histories and live feeds: the building blocks, and the generic feed.

    async def history_pages(
        self,
        path: str,
        *,
        item_type: type[T],
        page_size: int,
        view: FeedView | None,
        timeout: float | None = None,
    ) -> Page[T]:
        """Return the newest page of the history at ``path``.

        With a ``view`` only what it keeps is shown, as it shows it, and short server pages are
        refilled up to ``page_size``; without one, the server's pages as they are.
        """
        self._check_open()
        url = first_url(self._http, path, {"page_size": page_size})
        if view is None:
            pages: PlainPages[T] = PlainPages(self._http, item_type, timeout)
            return await pages.read(url)
        reader: HistoryReader[T] = HistoryReader(
            self._http, item_type=item_type, page_size=page_size, view=view, timeout=timeout
        )
        return await reader.first(url)

    async def open_feed(
        self,
        *,
        item_type: type[T],
        on_message: Callable[[T], object],
        view: FeedView,
        history_path: str,
    ) -> Subscription:
        """Connect the socket if needed and start a subscription to the events ``view`` routes.

        Raises:
            AuthenticationError: The server refused the token (now or on an earlier connect).
        """
        self._check_open()
        self.socket.raise_if_refused()
        await self.socket.ensure_connected(self._tasks)
        await self._start_refresher()
        return await self._subscriptions.open(
            item_type=item_type, on_message=on_message, view=view, history_path=history_path
        )

    async def history(
        self, *, item_type: type[T], page_size: int, timeout: float | None = None
    ) -> Page[T]:
        """Every message of the feed (``listMessages``), newest first, as the server pages it."""
        path = self.route_path("listMessages")
        return await self.history_pages(
            path, item_type=item_type, page_size=page_size, view=None, timeout=timeout
        )

    def iter_history(self, *, item_type: type[T], page_size: int) -> AsyncIterator[T]:
        """Every item of :meth:`history`, page after page, newest first."""

        async def items() -> AsyncIterator[T]:
            page = await self.history(item_type=item_type, page_size=page_size)
            async for item in page.iter_all():
                yield item

        return items()

    async def subscribe(
        self, *, item_type: type[T], on_message: Callable[[T], object]
    ) -> Subscription:
        """Call ``on_message`` (sync or async) for each new message of the feed.

        Raises:
            AuthenticationError: The server refused the token (now or on an earlier connect).
        """
        return await self.open_feed(
            item_type=item_type,
            on_message=on_message,
            view=ALL_MESSAGES,
            history_path=self.route_path("listMessages"),
        )

    def stream(self, *, item_type: type[T]) -> MessageStream[T]:
        """Return the feed of :meth:`subscribe` as ``async with ... as messages: async for``."""

        async def start(on_message: Callable[[T], None]) -> Subscription:
            return await self.subscribe(item_type=item_type, on_message=on_message)

        return MessageStream(start)

    # Lifecycle.

    @property
    def state(self) -> ConnectionState:
        """The socket's connection state."""
        return self.states.state

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: the state machine says so (``closed``)."""
        return self.states.state is ConnectionState.CLOSED

    async def aclose(self) -> None:
        """Cancel every subscription, close the socket and the HTTP session; idempotent.

        Raises:
            Exception: A background task's failure that no call has raised yet.
        """
        if self.closed:
            return
        self.states.set(ConnectionState.CLOSED)
        self._subscriptions.cancel_all()
        try:
            await self._tasks.aclose()  # raises a background failure no call has raised yet
        finally:
            await self._transport.aclose()
