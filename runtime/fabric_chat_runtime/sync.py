"""What the generated sync ``Client`` runs on: its own event loop thread and sync views.

A sync client (:class:`SyncBaseClient`) owns an :class:`EventLoopThread`: the async client
lives on that loop, and each
sync call submits one coroutine to it and waits. The caller's thread never runs an event loop,
so the same client works in a plain script, across any number of calls, and inside Jupyter
(where the caller's thread already runs a loop). Subscription callbacks run on the client's
own callback thread, in order, so a callback may call the client's sync methods (an echo bot
replies from its callback).

:class:`SyncPage`, :class:`SyncSubscription` and :class:`SyncMessageStream` are the sync faces
of :class:`~.pagination.Page`, :class:`~.subscriptions.Subscription` and
:class:`~.subscriptions.MessageStream`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import inspect
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from .client import BaseClient
from .engine import Engine
from .errors import ClientClosedError
from .pagination import Page
from .state import ConnectionState
from .subscriptions import MessageStream, Subscription

__all__ = [
    "EventLoopThread",
    "SyncBaseClient",
    "SyncMessageStream",
    "SyncPage",
    "SyncSubscription",
    "open_subscription",
]

T = TypeVar("T")


class EventLoopThread:
    """An event loop on a daemon thread, plus one thread that runs callbacks, in order.

    Args:
        name: The threads' name prefix (shown in tracebacks and debuggers).
    """

    def __init__(self, name: str = "fabric-chat") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=f"{name}-loop", daemon=True)
        self._callbacks = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)
        self._closed = False
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and return its result (or raise its exception).

        Raises:
            ClientClosedError: The loop is closed.
            RuntimeError: Called from the loop's own thread, where waiting would deadlock.
        """
        if self._closed:
            coroutine.close()
            raise ClientClosedError("the client is closed")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a sync client cannot be called from its own event loop thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
        """Yield the items of an async iterator that lives on the loop."""

        async def step() -> tuple[bool, T | None]:
            try:
                return True, await anext(items)
            except StopAsyncIteration:
                return False, None

        try:
            while True:
                more, item = self.run(step())
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            close = getattr(items, "aclose", None)
            if close is not None and not self._closed:
                self.run(close())

    def callback(self, function: Callable[[T], object]) -> Callable[[T], None]:
        """Return a plain function that hands each call to the callback thread, in order."""

        def submit(item: T) -> None:
            if not self._closed:
                self._callbacks.submit(function, item)

        return submit

    def close(self) -> None:
        """Stop the callback thread and the loop, and close the loop; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._callbacks.shutdown(wait=threading.current_thread() is not self._thread)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


class SyncPage(Generic[T]):
    """A page of results, newest first, for sync code.

    ``data`` holds the items; ``has_next`` / ``has_prev`` say whether an older / newer page
    exists; :meth:`next_page` / :meth:`prev_page` fetch it (``None`` past either end).
    ``for item in page`` walks this page and every older one (as ``async for`` over a
    :class:`~.pagination.Page`); ``page.data`` is this page's items alone.
    """

    def __init__(self, page: Page[T], loop: EventLoopThread) -> None:
        self._page = page
        self._loop = loop
        self.data: list[T] = page.data

    def __repr__(self) -> str:
        return repr(self._page).replace("Page(", "SyncPage(", 1)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[T]:
        """``for item in page`` walks this page and every older one (:meth:`iter_all`)."""
        return self.iter_all()

    @property
    def has_next(self) -> bool:
        """Whether the server says an older page exists."""
        return self._page.has_next

    @property
    def has_prev(self) -> bool:
        """Whether the server says a newer page exists."""
        return self._page.has_prev

    def next_page(self) -> SyncPage[T] | None:
        """Fetch the older page, or return ``None`` when there is none."""
        page = self._loop.run(self._page.next_page())
        return None if page is None else SyncPage(page, self._loop)

    def prev_page(self) -> SyncPage[T] | None:
        """Fetch the newer page, or return ``None`` when there is none."""
        page = self._loop.run(self._page.prev_page())
        return None if page is None else SyncPage(page, self._loop)

    def iter_all(self) -> Iterator[T]:
        """Yield every item of this page and of each older page, newest first."""
        return self._loop.iterate(self._page.iter_all())


class SyncSubscription:
    """A live subscription of a sync client; :meth:`cancel` ends it (idempotent).

    Its callback runs on the client's callback thread; once :meth:`cancel` returns, the
    callback is never called again (a call already running finishes first, unless ``cancel``
    is called from the callback itself).
    """

    def __init__(self, subscription: Subscription, loop: EventLoopThread, gate: _Gate) -> None:
        self._subscription = subscription
        self._loop = loop
        self._gate = gate

    def __repr__(self) -> str:
        return repr(self._subscription).replace("Subscription(", "SyncSubscription(", 1)

    @property
    def active(self) -> bool:
        """Whether the subscription still delivers messages."""
        return not self._gate.closed and bool(getattr(self._subscription, "active", True))

    def cancel(self) -> None:
        """Stop the subscription; nothing fires after this returns."""
        self._gate.close()
        if not self._loop.closed:

            async def cancel() -> None:
                self._subscription.cancel()

            self._loop.run(cancel())


class _Gate:
    """Lets callbacks through until closed; closing waits for a running one to finish."""

    def __init__(self, function: Callable[[Any], object]) -> None:
        self._function = function
        self._lock = threading.RLock()
        self.closed = False

    def __call__(self, item: Any) -> None:
        with self._lock:
            if not self.closed:
                result = self._function(item)
                if inspect.iscoroutine(result):
                    # A coroutine function given to a sync client: run it here, in order.
                    asyncio.run(result)

    def close(self) -> None:
        with self._lock:
            self.closed = True


def open_subscription(
    loop: EventLoopThread,
    on_message: Callable[[T], object],
    start: Callable[[Callable[[T], None]], Coroutine[Any, Any, Subscription]],
) -> SyncSubscription:
    """Open a subscription on the loop whose ``on_message`` runs on the callback thread."""
    gate = _Gate(on_message)
    subscription = loop.run(start(loop.callback(gate)))
    return SyncSubscription(subscription, loop, gate)


class SyncMessageStream(Generic[T]):
    """``with client.chat.stream(...) as messages: for message in messages: ...``.

    Iteration ends when the ``with`` block exits or the client closes. ``timeout`` (seconds)
    bounds the wait for each message: past it, iteration raises ``TimeoutError``.
    """

    def __init__(
        self, stream: MessageStream[T], loop: EventLoopThread, *, timeout: float | None = None
    ) -> None:
        self._stream = stream
        self._loop = loop
        self._timeout = timeout
        self._items: queue.Queue[T] = queue.Queue()

    def __enter__(self) -> Self:
        self._loop.run(self._stream.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.run(self._stream.__aexit__(exc_type, exc, tb))

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        async def receive() -> T:
            async with asyncio.timeout(self._timeout):
                return await anext(self._stream)

        try:
            return self._loop.run(receive())
        except StopAsyncIteration:
            raise StopIteration from None


class SyncBaseClient:
    """The base of the generated sync ``Client``: an async client on its own loop thread.

    The generated ``Client.__init__`` passes a function that builds its ``AsyncClient``
    with the same typed options; it runs on the loop thread (where the async client lives), then
    ``_bind(engine, loop)`` binds the sync namespaces. :meth:`with_options` binds them again for
    a derived client.
    """

    _async: BaseClient
    _engine: Engine
    _loop: EventLoopThread
    _owns_loop: bool = True

    def __init__(self, build: Callable[[], BaseClient]) -> None:
        loop = EventLoopThread()

        async def make() -> BaseClient:
            return build()

        try:
            self._async = loop.run(make())
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        self._engine = self._async._engine
        self._bind(self._engine, loop)

    def _bind(self, engine: Engine, loop: EventLoopThread) -> None:
        """Bind the sync namespaces to ``engine`` and ``loop`` (the generated client does)."""

    def with_options(self, *, timeout: float | None = None, max_retries: int | None = None) -> Self:
        """Return a client that shares this one's connection, with other call defaults.

        ``client.with_options(timeout=5).chat.get_messages(...)`` for one call, or keep the
        derived client. It shares the socket, the caches, the token and the loop thread;
        closing it does nothing, closing this one closes both.

        Args:
            timeout: Seconds for each call that takes no ``timeout``; ``None``: unchanged.
            max_retries: Retries after a failed attempt; ``None``: unchanged.

        Raises:
            InvalidArgumentError: A value is out of range.
        """
        derived = copy.copy(self)
        derived._async = self._async.with_options(timeout=timeout, max_retries=max_retries)
        derived._engine = derived._async._engine
        derived._owns_loop = False
        derived._bind(derived._engine, self._loop)
        return derived

    def __repr__(self) -> str:
        return repr(self._async).replace(type(self._async).__name__, type(self).__name__, 1)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Cancel every subscription, close the socket, the HTTP session and the loop thread.

        Idempotent. A client from :meth:`with_options` owns nothing: closing it does nothing.
        """
        if not self._owns_loop or self._loop.closed:
            return
        try:
            self._loop.run(self._async.aclose())
        finally:
            self._loop.close()

    @property
    def state(self) -> ConnectionState:
        """The socket's connection state (``idle`` until the first subscription)."""
        return self._async.state

    def on_state_change(self, callback: Callable[[ConnectionState], object]) -> Callable[[], None]:
        """Call ``callback(state)`` on the client's callback thread on every state change.

        Returns:
            A function that stops the callbacks.
        """
        return self._async.on_state_change(self._loop.callback(callback))
