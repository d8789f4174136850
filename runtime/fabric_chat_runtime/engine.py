"""The generic engine behind the generated namespaces: the contract's routes and live feeds.

Every generated method validates its arguments and then makes exactly one call to a method of
the engine its spec names, passing the generated struct type it wants back. This class knows no
schema. It calls the contract's routes over HTTP (:meth:`Engine.request`, :meth:`Engine.page`,
:meth:`Engine.history`: requests and pages) and opens live feeds on its
:class:`~.live.LiveConnection` (:meth:`Engine.subscribe`, :meth:`Engine.stream`: the vocabulary's
message events, every message as it is). A package adds its own semantics by subclassing it
(``fabric_chat.lib.chat.ChatEngine``: joins, sends, chat views) with the building blocks below
(:meth:`Engine.history_pages`, :meth:`Engine.open_feed`, :meth:`Engine.route_path`).
"""

# The engine's methods take a per-call ``timeout`` (seconds) by design; it bounds each attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeVar

import msgspec

from . import errors
from ._http import HttpClient
from .contract import Contract, decoder, encode
from .live import LiveConnection
from .message_view import ALL_MESSAGES, FeedView
from .pagination import HistoryReader, Page, PlainPages
from .retry import HeartbeatPolicy, ReconnectPolicy, RetryPolicy
from .subscriptions import MessageStream, Subscription
from .tokens import TokenSource
from .transport import Transport

__all__ = ["Engine"]

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
    """The contract's routes and the live feeds of one client (no schema).

    Attributes:
        live: The socket, the subscriptions on it and the background tasks.
        states: The connection state (``live.states``): ``closed`` once :meth:`aclose` ran.
    """

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
        if contract.vocabulary is None:
            raise errors.InvalidArgumentError("the contract has no wire vocabulary")
        self._contract = contract
        self._transport = Transport(
            session=session,
            user_agent=agent,
            connector=connector,
            trust_env=trust_env,
            read_timeout=read_timeout,
        )
        self._http = HttpClient(
            self._transport,
            base_url=base_url,
            tokens=tokens,
            retry=retry,
            timeout=timeout,
            is_closed=lambda: self.live.closed,
            vocabulary=contract.vocabulary,
        )
        self.live = LiveConnection(
            self._transport,
            self._http,
            vocabulary=contract.vocabulary,
            ws_url=ws_url,
            tokens=tokens,
            agent=agent,
            reconnect=reconnect,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
        )
        self.states = self.live.states
        self.base_url = base_url
        self.ws_url = ws_url

    def __repr__(self) -> str:
        return f"Engine(base_url={self.base_url!r}, ws_url={self.ws_url!r})"

    def derive(self, *, timeout: float | None, max_attempts: int | None) -> Engine:
        """Return an engine that shares everything of this one but the HTTP call defaults."""
        derived = copy.copy(self)
        derived._http = self._http.derive(timeout=timeout, max_attempts=max_attempts)
        return derived

    @property
    def contract(self) -> Contract:
        """The contract whose routes this engine calls."""
        return self._contract

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self.live.closed

    def route_path(self, operation_id: str, value: str | None = None) -> str:
        """Return a route's path, its one path parameter (if any) set to ``value``."""
        route = self._contract.route(operation_id)
        names = _PATH_PARAM.findall(route.path)
        if value is None or not names:
            return route.expand()
        return route.expand({names[0]: value})

    # Routes: requests and pages.

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
        self.live.check_open()
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
        self.live.check_open()
        route = self._contract.route(operation_id)
        params = _query_strings(query)
        if page_size is not None:
            params["page_size"] = str(page_size)
        pages: PlainPages[T] = PlainPages(self._http.page_reader(item_type, timeout))
        return await pages.first(self._http.url(route.expand(path), params))

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
        self.live.check_open()
        url = self._http.url(path, {"page_size": page_size})
        read = self._http.page_reader(item_type, timeout)
        if view is None:
            pages: PlainPages[T] = PlainPages(read)
            return await pages.first(url)
        reader: HistoryReader[T] = HistoryReader(read, page_size=page_size, view=view)
        return await reader.first(url)

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

    # Live feeds.

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
        return await self.live.subscribe(
            item_type=item_type, on_message=on_message, view=view, history_path=history_path
        )

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

    async def aclose(self) -> None:
        """Cancel every subscription, close the socket and the HTTP session; idempotent.

        Raises:
            Exception: A background task's failure that no call has raised yet.
        """
        if self.live.closed:
            return
        try:
            await self.live.aclose()  # raises a background failure no call has raised yet
        finally:
            await self._transport.aclose()
