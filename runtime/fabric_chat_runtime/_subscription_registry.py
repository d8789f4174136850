"""The registry of live subscriptions: routes socket events to them and starts them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from . import errors
from ._history import decode_page, fetch_newer, first_url, message_position
from ._http import HttpClient
from ._tasks import TaskOwner
from .message_view import FeedKey, FeedView
from .retry import ReconnectPolicy
from .subscriptions import Subscription

__all__ = ["BACKFILL_PAGE_SIZE", "SubscriptionRegistry"]

logger = logging.getLogger("fabric_chat.subscription_registry")

#: Page size used to backfill subscriptions after a refused resume.
BACKFILL_PAGE_SIZE = 100

_decode_key = msgspec.json.Decoder(FeedKey).decode


class SubscriptionRegistry:
    """Every live subscription of one client; the socket's :class:`EventSink`."""

    def __init__(
        self,
        http: HttpClient,
        tasks: TaskOwner,
        backoff: ReconnectPolicy,
        *,
        message_events: frozenset[str],
    ) -> None:
        self._http = http
        self._message_events = message_events
        self._decode_keys = http.page_decoder(FeedKey)
        self._tasks = tasks
        self._backoff = backoff
        self._subscriptions: set[Subscription] = set()

    async def open(
        self,
        *,
        item_type: type[Any],
        on_message: Callable[[Any], object],
        view: FeedView,
        history_path: str,
    ) -> Subscription:
        """Start a subscription (its worker task) and record where its history begins.

        The socket must already be connected, so nothing sent after this returns is missed.
        """
        http = self._http
        url = first_url(http, history_path, {"page_size": BACKFILL_PAGE_SIZE})

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
        subscription.attach(await self._tasks.spawn(subscription.run(), name="fabric-chat-feed"))
        try:
            answer = await http.call("GET", first_url(http, history_path, {"page_size": 1}))
            newest = decode_page(self._decode_keys, answer)
        except BaseException:
            subscription.cancel()
            raise
        subscription.set_baseline(message_position(newest.data[0]) if newest.data else None)
        return subscription

    def cancel_all(self) -> None:
        """Cancel every subscription."""
        for subscription in list(self._subscriptions):
            subscription.cancel()

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
