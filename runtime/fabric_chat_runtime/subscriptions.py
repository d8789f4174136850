"""Live message feeds over the client's one socket.

Each :class:`Subscription` is a local filter with its own queue and worker task, so a slow
(async) callback never holds up the socket reader. A plain function callback is called by the
reader itself when nothing is queued before it (the common case: one hop fewer per message);
anything else goes through the queue, in order. It remembers the last message it delivered and,
after a reconnect whose resume the server refused (an honoured resume replays what was missed),
backfills from history everything newer, in order, before live events; it drops any message
whose id it has already delivered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import msgspec

from .contract import decoder
from .errors import FabricChatError
from .message_view import FeedKey, FeedView, message_position
from .retry import ReconnectPolicy

__all__ = ["MessageStream", "Subscription"]

logger = logging.getLogger("fabric_chat.subscriptions")

T = TypeVar("T")

#: How many delivered ids each subscription remembers to drop duplicates.
SEEN_LIMIT = 4096
#: How many times a failed backfill is retried before waiting for the next event.
BACKFILL_ATTEMPTS = 5
#: Seconds before the last delivered message that a backfill re-reads, for events that the
#: server published out of ``ts`` order; what was delivered already is dropped by id.
BACKFILL_OVERLAP = 2.0

Backfill = Callable[[tuple[float, str] | None], Awaitable[list[Any]]]


class _Resync:
    pass


_RESYNC = _Resync()


class _Pending:
    """An awaitable that a plain callback returned, for the worker to await in order."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


class Subscription:
    """A live filter on the client's socket; :meth:`cancel` ends it (idempotent).

    Once :meth:`cancel` returns, its callback is never called again.
    """

    def __init__(
        self,
        *,
        item_type: type[Any],
        on_message: Callable[[Any], object],
        view: FeedView,
        backfill: Backfill,
        backoff: ReconnectPolicy,
    ) -> None:
        self._decode = decoder(item_type).decode
        self._on_message = on_message
        self._view = view
        self._backfill = backfill
        self._backoff = backoff
        self._queue: asyncio.Queue[tuple[FeedKey, msgspec.Raw] | _Resync | _Pending] = (
            asyncio.Queue()
        )
        # The reader may call a plain function itself; a coroutine function goes to the worker.
        self._inline = not inspect.iscoroutinefunction(on_message)
        self._busy = False
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._cursor: tuple[float, str] | None = None
        self._baseline: tuple[float, str] | None = None
        self._stale = False
        self._cancelled = False
        self._error: FabricChatError | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_cancel: list[Callable[[], None]] = []
        self._started = asyncio.Event()

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "active"
        return f"Subscription({self._view!r}, {state})"

    @property
    def active(self) -> bool:
        """Whether the subscription still delivers messages."""
        return not self._cancelled

    @property
    def error(self) -> FabricChatError | None:
        """Why the subscription ended on its own (the server refused the token), if it did."""
        return self._error

    def cancel(self) -> None:
        """Stop delivering; safe to call more than once, from anywhere, callbacks included."""
        if self._cancelled:
            return
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()
        callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            callback()

    # Engine side.

    def fail(self, error: FabricChatError) -> None:
        """End the subscription because of ``error`` (kept in :attr:`error`)."""
        if not self._cancelled:
            self._error = error
            self.cancel()

    def add_cancel_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once when the subscription is cancelled."""
        if self._cancelled:
            callback()
        else:
            self._on_cancel.append(callback)

    def attach(self, task: asyncio.Task[None]) -> None:
        """Record the worker task that :meth:`run` runs in."""
        self._task = task

    def set_baseline(self, position: tuple[float, str] | None) -> None:
        """Record the newest message that existed when the subscription started.

        The worker delivers nothing before this, so a backfill never starts from nowhere.
        """
        if position is not None and (self._cursor is None or position > self._cursor):
            self._cursor = position
        self._baseline = position
        self._started.set()

    def backfill_from(self) -> tuple[float, str] | None:
        """Return the position a backfill starts after (``None``: the whole history).

        That is the last delivered message less :data:`BACKFILL_OVERLAP` seconds, but never
        before the baseline: messages older than the subscription are never delivered.
        """
        if self._cursor is None:
            return None
        floor = (self._cursor[0] - BACKFILL_OVERLAP, "")
        if self._baseline is not None and self._baseline > floor:
            return self._baseline
        return floor

    def matches(self, payload: msgspec.Raw) -> bool:
        """Whether a live message event belongs to this feed (its view routes it here)."""
        return self._view.routes(payload)

    def offer(self, key: FeedKey, raw: msgspec.Raw) -> None:
        """Deliver one live message now when nothing is ahead of it, else queue it in order."""
        if self._cancelled:
            return
        if (
            self._inline
            and not self._busy
            and not self._stale
            and self._started.is_set()
            and self._queue.empty()
        ):
            self._take(key, raw)
        else:
            self._queue.put_nowait((key, raw))

    def resync(self) -> None:
        """Queue a backfill: the socket reconnected and events may have been missed."""
        if not self._cancelled:
            self._queue.put_nowait(_RESYNC)

    async def run(self) -> None:
        """Deliver queued messages in order until cancelled (the worker task's body)."""
        await self._started.wait()
        while not self._cancelled:
            entry = await self._queue.get()
            self._busy = True
            try:
                if isinstance(entry, _Pending):
                    await self._settle(entry.awaitable)
                    continue
                if isinstance(entry, _Resync) or self._stale:
                    await self._catch_up()
                if isinstance(entry, _Resync):
                    continue
                key, raw = entry
                pending = self._take(key, raw)
                if pending is not None:
                    await self._settle(pending)
            finally:
                self._busy = False

    def _take(self, key: FeedKey, raw: msgspec.Raw) -> Awaitable[Any] | None:
        """Decode and deliver one live message; return what the callback left to await."""
        if key.id in self._seen:
            return None
        try:
            item = self._decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.warning("dropping a message that does not decode")
            return None
        result = self._call(item)
        if result is not None and not self._busy:
            # Called by the reader, a plain callback returned an awaitable: the worker awaits it,
            # ahead of anything offered after it (the queue is no longer empty).
            self._queue.put_nowait(_Pending(result))
            return None
        return result

    async def _catch_up(self) -> None:
        for attempt in range(BACKFILL_ATTEMPTS):
            try:
                items = await self._backfill(self.backfill_from())
            except Exception as exc:
                logger.warning("backfill failed (%s); attempt %d", type(exc).__name__, attempt + 1)
                await self._backoff.sleep(self._backoff.delay(attempt))
                continue
            self._stale = False
            logger.info("backfilled %d message(s) after a reconnect", len(items))
            for item in items:
                await self._deliver(item)
            return
        self._stale = True

    async def _deliver(self, item: Any) -> None:
        pending = self._call(item)
        if pending is not None:
            await self._settle(pending)

    def _call(self, item: Any) -> Awaitable[Any] | None:
        """Deliver ``item`` unless cancelled or seen; return the callback's awaitable, if any."""
        message_id = str(getattr(item, "id", ""))
        if self._cancelled or message_id in self._seen:
            return None
        self._remember(message_id)
        position = message_position(item)
        if self._cursor is None or position > self._cursor:
            self._cursor = position
        item = self._view.shown(item)
        try:
            result = self._on_message(item)
        except Exception:
            logger.exception("on_message callback failed")
            return None
        return result if inspect.isawaitable(result) else None

    @staticmethod
    async def _settle(awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("on_message callback failed")

    def _remember(self, message_id: str) -> None:
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_LIMIT:
            self._seen.discard(self._seen_order.popleft())


class _End:
    pass


_END = _End()


class MessageStream(Generic[T]):
    """``async with engine.stream(...) as messages: async for message in messages: ...``.

    Iteration ends when the stream's block exits or the client closes; it raises
    :class:`~fabric_chat_runtime.errors.AuthenticationError` when the server refuses the token.
    """

    def __init__(self, start: Callable[[Callable[[T], None]], Awaitable[Subscription]]) -> None:
        """Wrap a subscription that ``start(on_message)`` opens on entry."""
        self._start = start
        self._queue: asyncio.Queue[T | _End] = asyncio.Queue()
        self._subscription: Subscription | None = None

    async def __aenter__(self) -> MessageStream[T]:
        subscription = await self._start(self._queue.put_nowait)
        subscription.add_cancel_callback(lambda: self._queue.put_nowait(_END))
        self._subscription = subscription
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._subscription is not None:
            self._subscription.cancel()

    def __aiter__(self) -> MessageStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._subscription is None:
            raise RuntimeError("use the stream inside 'async with'")
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)
            error = self._subscription.error
            if error is not None:
                raise error.with_traceback(None)
            raise StopAsyncIteration
        return item
