"""The client's live connection: its one socket, the subscriptions on it, their background tasks.

:class:`LiveConnection` opens the socket on the first subscription, routes each message event the
socket hears to every subscription whose view routes it, has every subscription backfill from
history after a reconnect whose resume the server refused, ends them all when the server
refuses the token, and keeps a refreshable token fresh. Every task it starts (the socket, each
subscription's worker, the token refresher) belongs to its :class:`~._tasks.TaskOwner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from . import errors
from ._http import HttpClient
from ._tasks import TaskOwner
from .contract import Vocabulary
from .message_view import FeedKey, FeedView, message_position
from .retry import HeartbeatPolicy, ReconnectPolicy
from .session import SocketSession
from .state import ConnectionState, StateWatch
from .subscriptions import Subscription
from .tokens import TokenSource
from .transport import Transport

__all__ = ["BACKFILL_PAGE_SIZE", "MAX_BACKFILL_PAGES", "LiveConnection", "fetch_newer"]

logger = logging.getLogger("fabric_chat.live")

#: Page size used to backfill subscriptions after a refused resume.
BACKFILL_PAGE_SIZE = 100
#: At most this many server pages are read for one backfill.
MAX_BACKFILL_PAGES = 200

_decode_key = msgspec.json.Decoder(FeedKey).decode


async def fetch_newer(
    http: HttpClient,
    url: str,
    *,
    item_type: Any,
    after: tuple[float, str] | None,
    view: FeedView,
) -> list[Any]:
    """Return the messages of ``view`` newer than ``after`` (``(ts, id)``), oldest first.

    Reads pages from ``url`` (the newest) until it reaches ``after`` or the end, at most
    :data:`MAX_BACKFILL_PAGES` pages. ``after=None`` (the history was empty) means every message.
    """
    read = http.page_reader(item_type)
    found: list[Any] = []
    next_url: str | None = url
    rounds = 0
    while next_url is not None and rounds < MAX_BACKFILL_PAGES:
        envelope = await read(next_url)
        rounds += 1
        for item in envelope.data:
            if after is not None and message_position(item) <= after:
                next_url = None
                break
            if view.keeps(item):
                found.append(item)
        else:
            next_url = envelope.links.next
    if rounds >= MAX_BACKFILL_PAGES:  # pragma: no cover - a very long outage
        logger.warning("backfill stopped after %d pages", rounds)
    found.reverse()
    return found


class LiveConnection:
    """One client's socket and every live subscription over it; the socket's :class:`EventSink`.

    Its :class:`~.state.StateWatch` is the client's connection state: ``closed`` once
    :meth:`aclose` ran.
    """

    def __init__(
        self,
        transport: Transport,
        http: HttpClient,
        *,
        vocabulary: Vocabulary,
        ws_url: str,
        tokens: TokenSource,
        agent: str,
        reconnect: ReconnectPolicy,
        heartbeat: HeartbeatPolicy,
        connect_timeout: float,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._backoff = reconnect
        self._message_events = vocabulary.message_events
        self._subscriptions: set[Subscription] = set()
        self._refresher: asyncio.Task[None] | None = None
        self.states = StateWatch()
        self.tasks = TaskOwner()
        self.socket = SocketSession(
            transport,
            vocabulary=vocabulary,
            ws_url=ws_url,
            tokens=tokens,
            agent=agent,
            sink=self,
            state=self.states,
            reconnect=reconnect,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
        )
        tokens.on_refresh(self.socket.reauthenticate)

    def __repr__(self) -> str:
        return (
            f"LiveConnection(subscriptions={len(self._subscriptions)}, {self.states.state.value})"
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called: the state machine says so (``closed``)."""
        return self.states.state is ConnectionState.CLOSED

    def check_open(self) -> None:
        """Raise when the client is closed or a background task failed.

        Raises:
            ClientClosedError: The client is closed.
            BaseException: A background task's failure (its exception, as it was raised).
        """
        if self.closed:
            raise errors.ClientClosedError("the client is closed")
        self.tasks.raise_if_failed()

    async def subscribe(
        self,
        *,
        item_type: type[Any],
        on_message: Callable[[Any], object],
        view: FeedView,
        history_path: str,
    ) -> Subscription:
        """Connect the socket if needed, then start a subscription to the events ``view`` routes.

        The socket is up before the subscription records where its history begins, so nothing
        sent after this returns is missed.

        Raises:
            AuthenticationError: The server refused the token (now or on an earlier connect).
        """
        self.check_open()
        self.socket.raise_if_refused()
        await self.socket.ensure_connected(self.tasks)
        await self._start_refresher()
        http = self._http
        url = http.url(history_path, {"page_size": BACKFILL_PAGE_SIZE})

        async def backfill(after: tuple[float, str] | None) -> list[Any]:
            return await fetch_newer(http, url, item_type=item_type, after=after, view=view)

        subscription = Subscription(
            item_type=item_type,
            on_message=on_message,
            view=view,
            backfill=backfill,
            backoff=self._backoff,
        )
        self._subscriptions.add(subscription)
        subscription.add_cancel_callback(lambda: self._subscriptions.discard(subscription))
        subscription.attach(await self.tasks.spawn(subscription.run(), name="fabric-chat-feed"))
        try:
            newest = await http.page_reader(FeedKey)(http.url(history_path, {"page_size": 1}))
        except BaseException:
            subscription.cancel()
            raise
        subscription.set_baseline(message_position(newest.data[0]) if newest.data else None)
        return subscription

    async def aclose(self) -> None:
        """Move to ``closed``, cancel every subscription and end every task; idempotent.

        Raises:
            BaseException: A background task's failure that no call has raised yet.
        """
        if self.closed:
            return
        self.states.set(ConnectionState.CLOSED)
        for subscription in list(self._subscriptions):
            subscription.cancel()
        await self.tasks.aclose()

    # The token, kept fresh.

    async def _keep_token_fresh(self) -> None:
        """Refresh the token before it expires, for as long as the client lives.

        The socket swaps it in with ``signalwire.reauthenticate`` (a listener of the source).
        """
        tokens = self._tokens
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
        if self._refresher is None and self._tokens.refreshable:
            self._refresher = await self.tasks.spawn(
                self._keep_token_fresh(), name="fabric-chat-token-refresh"
            )

    # EventSink.

    def on_event(self, event_type: str, payload: msgspec.Raw) -> None:
        """Route one socket event to every subscription it matches."""
        if event_type not in self._message_events or not self._subscriptions:
            return
        try:
            key = _decode_key(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.warning("ignoring a %s event without a message", event_type)
            return
        for subscription in list(self._subscriptions):
            if subscription.matches(payload):
                subscription.offer(key, payload)

    def on_refused(self, error: errors.AuthenticationError) -> None:
        """End every subscription with ``error``: the socket will not come back."""
        for subscription in list(self._subscriptions):
            subscription.fail(error)

    def on_reconnected(self) -> None:
        """Have every live subscription backfill what the socket may have missed.

        Called after a reconnect that the server did not resume; an honoured resume replays
        the missed events itself.
        """
        for subscription in list(self._subscriptions):
            subscription.resync()
