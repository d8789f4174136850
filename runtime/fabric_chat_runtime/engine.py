"""The engine behind the generated namespaces.

SEAM (frozen signatures): every generated ``chat`` / ``conversation`` method validates its
arguments and then makes exactly one call to a method below, passing the generated struct types
it wants back. The engine speaks the wire protocol of PROTOCOL.md (group dialect, join cache,
pagination, subscriptions over one socket) and never imports the generated package.
"""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import functools
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from . import errors
from ._decoders import decoder, encode, struct_fields
from ._feeds import Feeds
from ._history import HistoryReader, PlainPages, first_url
from ._http import IDEMPOTENCY_KEY_HEADER, HttpClient
from ._tasks import TaskOwner
from .contract import Contract, Vocabulary
from .logs import get_logger
from .message_view import MessageView
from .pagination import Page
from .retry import ReconnectPolicy, RetryPolicy
from .session import HeartbeatPolicy, SocketSession
from .state import ConnectionState, StateWatch
from .subscriptions import MessageStream, Subscription
from .tokens import TokenSource
from .transport import Transport

__all__ = ["Engine"]

logger = get_logger(__name__)

T = TypeVar("T", bound=msgspec.Struct)


class _Address(msgspec.Struct):
    id: str


class _SubscriberInfo(msgspec.Struct):
    """The part of ``getSubscriberInfo``'s answer the engine reads."""

    id: str = ""
    fabric_addresses: list[_Address] = msgspec.field(default_factory=list)


class _JoinResult(msgspec.Struct):
    """The part of a join answer the engine reads."""

    group_id: str


_decode_info = msgspec.json.Decoder(_SubscriberInfo).decode
_decode_join = msgspec.json.Decoder(_JoinResult).decode
_PATH_PARAM = re.compile(r"\{(\w+)\}")


class _Sent(msgspec.Struct):
    ts: float = 0.0
    conversation_name: str | None = None


@functools.cache
def _conversation_shape(result_type: Any) -> tuple[Any, frozenset[str], tuple[str, ...]]:
    """Return, for a Conversation type: the type to decode a sent message into, its field
    names, and its required field names. Computed once per type."""
    fields = struct_fields(result_type)
    message_type = next((f.type for f in fields if f.name == "last_message"), _Sent)
    return (
        message_type,
        frozenset(f.name for f in fields),
        tuple(f.name for f in fields if f.required),
    )


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


@dataclass(frozen=True, slots=True)
class _Joined:
    group_id: str
    body: bytes


def _decode_as(result_type: type[T], body: bytes) -> T:
    try:
        value: T = decoder(result_type).decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise errors.ProtocolError(f"unexpected answer: {exc}") from None
    return value


class Engine:
    """Transport, session, caches and the protocol's chat semantics for one client."""

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
        self._feeds = Feeds(
            self._http, self._tasks, reconnect, message_events=vocabulary.message_events
        )
        self.socket = SocketSession(
            self._transport,
            vocabulary=vocabulary,
            ws_url=ws_url,
            tokens=tokens,
            agent=agent,
            sink=self._feeds,
            state=self.states,
            reconnect=reconnect,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
        )
        self.base_url = base_url
        self.ws_url = ws_url
        self._me: str | None = None
        self._me_lock = asyncio.Lock()
        self._joins: dict[str, _Joined] = {}
        self._join_locks: dict[str, asyncio.Lock] = {}
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

    def _path(self, operation_id: str, value: str | None = None) -> str:
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

    async def my_address(self, *, timeout: float | None = None) -> str:
        """Return the caller's own address id (the first of its ``fabric_addresses``); cached."""
        self._check_open()
        async with self._me_lock:
            if self._me is None:
                route = self._contract.route("getSubscriberInfo")
                answer = await self._http.call(route.method, route.expand(), timeout=timeout)
                try:
                    info = _decode_info(answer)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    raise errors.ProtocolError("unexpected subscriber info") from None
                if not info.fabric_addresses:
                    raise errors.ProtocolError("the subscriber has no address")
                self._me = info.fabric_addresses[0].id
            return self._me

    async def _joined(self, address_id: str, timeout: float | None) -> _Joined:
        joined = self._joins.get(address_id)
        if joined is not None:
            return joined
        lock = self._join_locks.setdefault(address_id, asyncio.Lock())
        async with lock:
            joined = self._joins.get(address_id)
            if joined is None:
                me = await self.my_address(timeout=timeout)
                route = self._contract.route("joinConversation")
                body = {"from_fabric_address_id": me, "fabric_address_ids": [address_id, me]}
                answer = await self._http.call(
                    route.method, route.expand(), body=encode(body), timeout=timeout
                )
                try:
                    group_id = _decode_join(answer).group_id
                except (msgspec.DecodeError, msgspec.ValidationError):
                    raise errors.ProtocolError("unexpected join answer") from None
                joined = self._joins[address_id] = _Joined(group_id, answer)
            return joined

    async def join(
        self, address_id: str, *, result_type: type[T], timeout: float | None = None
    ) -> T:
        """Join the conversation with ``address_id`` (group dialect); cached per address."""
        self._check_open()
        return _decode_as(result_type, (await self._joined(address_id, timeout)).body)

    def _forget(self, address_id: str, joined: _Joined) -> None:
        """Drop what the server no longer knows: the join of ``address_id`` and who I am."""
        if self._joins.get(address_id) is joined:
            del self._joins[address_id]
        self._me = None

    async def _post_message(
        self,
        joined: _Joined,
        body: dict[str, Any],
        headers: dict[str, str],
        timeout: float | None,
    ) -> tuple[bytes, str]:
        me = await self.my_address(timeout=timeout)
        route = self._contract.route("sendMessage")
        sent = {"group_id": joined.group_id, "from_fabric_address_id": me, **body}
        answer = await self._http.call(
            route.method, route.expand(), body=encode(sent), headers=headers, timeout=timeout
        )
        return answer, me

    async def send_message(
        self,
        address_id: str,
        *,
        text: str,
        metadata: Mapping[str, Any] | None,
        details: Mapping[str, Any] | None,
        result_type: type[T],
        headers: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
    ) -> T:
        """Join if needed, then send; safe to retry (idempotency key). Returns a Conversation.

        ``headers`` (None values left out) go with the POST. Without an ``Idempotency-Key``
        among them the call makes a fresh one, which its own retries reuse; a caller who passes
        the same key again after an error sends the message at most once.

        When the server answers 403 or 404 to a send that used a cached join (it no longer
        knows the group, e.g. after its database was reset), the cache entry is dropped, the
        conversation joined again, once, and the send repeated with the same key.

        The Conversation is built from the join and the created message: ``id`` and
        ``group_id`` are the group id, ``address_id`` the address asked, ``name`` the message's
        ``conversation_name``, ``last_message_at`` its ``ts``, ``from_fabric_address_id`` the
        caller's address and ``last_message`` the message, converted to whatever type
        ``result_type`` declares for that field (``msgspec.convert``).
        """
        self._check_open()
        sent_headers = {key: value for key, value in (headers or {}).items() if value is not None}
        sent_headers.setdefault(IDEMPOTENCY_KEY_HEADER, str(uuid.uuid4()))
        body: dict[str, Any] = {"text": text}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if details is not None:
            body["details"] = dict(details)
        cached = address_id in self._joins
        joined = await self._joined(address_id, timeout)
        try:
            answer, me = await self._post_message(joined, body, sent_headers, timeout)
        except (errors.NotFoundError, errors.PermissionDeniedError) as exc:
            if not cached:
                raise
            logger.info(
                "the server no longer knows a cached conversation (%d); joining again", exc.status
            )
            self._forget(address_id, joined)
            joined = await self._joined(address_id, timeout)
            answer, me = await self._post_message(joined, body, sent_headers, timeout)
        message_type, names, required = _conversation_shape(result_type)
        try:
            message = decoder(message_type).decode(answer)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise errors.ProtocolError("unexpected answer to sendMessage") from None
        ts = getattr(message, "ts", 0.0)
        conversation: dict[str, Any] = {
            "id": joined.group_id,
            "group_id": joined.group_id,
            "address_id": address_id,
            "name": getattr(message, "conversation_name", None),
            "last_message_at": ts,
            "from_fabric_address_id": me,
            "last_message": message,
        }
        for name in required:
            conversation.setdefault(name, ts if name.endswith("_at") else {})
        try:
            return result_type(**{k: v for k, v in conversation.items() if k in names})
        except TypeError as exc:
            raise errors.ProtocolError(f"cannot build {result_type.__name__}: {exc}") from None

    def _history_path(self, address_id: str | None) -> str:
        """One conversation's messages, by the address id (the route resolves it and creates
        nothing: a history read never joins), or every message of the caller."""
        if address_id is None:
            return self._path("listMessages")
        return self._path("listConversationMessages", address_id)

    async def history(
        self,
        address_id: str | None,
        *,
        item_type: type[T],
        page_size: int,
        chat_only: bool,
        timeout: float | None = None,
    ) -> Page[T]:
        """Messages newest first: one conversation's (``address_id``) or all of the caller's (None).

        With ``chat_only`` only ``subtype == "chat"`` items are kept, short pages are refilled
        from the next server pages, and each item's ``conversation_id`` is ``address_id``.
        """
        self._check_open()
        path = self._history_path(address_id)
        url = first_url(self._http, path, {"page_size": page_size})
        if not chat_only:
            pages: PlainPages[T] = PlainPages(self._http, item_type, timeout)
            return await pages.read(url)
        view = MessageView.of(item_type, address_id=address_id, chat_only=chat_only)
        reader: HistoryReader[T] = HistoryReader(
            self._http, item_type=item_type, page_size=page_size, view=view, timeout=timeout
        )
        return await reader.first(url)

    def iter_history(
        self,
        address_id: str | None,
        *,
        item_type: type[T],
        page_size: int,
        chat_only: bool,
    ) -> AsyncIterator[T]:
        """Every item of :meth:`history`, page after page, newest first."""

        async def items() -> AsyncIterator[T]:
            page = await self.history(
                address_id, item_type=item_type, page_size=page_size, chat_only=chat_only
            )
            async for item in page.iter_all():
                yield item

        return items()

    # Live feeds.

    async def subscribe(
        self,
        *,
        item_type: type[T],
        on_message: Callable[[T], object],
        address_id: str | None,
        chat_only: bool,
    ) -> Subscription:
        """Call ``on_message`` (sync or async) for each new message; ``None``: all of them.

        Raises:
            AuthenticationError: The server refused the token (now or on an earlier connect).
        """
        self._check_open()
        self.socket.raise_if_refused()
        group_id = None
        if address_id is not None:
            group_id = (await self._joined(address_id, None)).group_id
        history_path = self._history_path(address_id)
        await self.socket.ensure_connected(self._tasks)
        await self._start_refresher()
        view = MessageView.of(
            item_type, address_id=address_id, chat_only=chat_only, group_id=group_id
        )
        return await self._feeds.open(
            item_type=item_type, on_message=on_message, view=view, history_path=history_path
        )

    def stream(
        self,
        *,
        item_type: type[T],
        address_id: str | None,
        chat_only: bool,
    ) -> MessageStream[T]:
        """Return the feed of :meth:`subscribe` as ``async with ... as messages: async for``."""

        async def start(on_message: Callable[[T], None]) -> Subscription:
            return await self.subscribe(
                item_type=item_type,
                on_message=on_message,
                address_id=address_id,
                chat_only=chat_only,
            )

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
        self._feeds.cancel_all()
        try:
            await self._tasks.aclose()  # raises a background failure no call has raised yet
        finally:
            await self._transport.aclose()
