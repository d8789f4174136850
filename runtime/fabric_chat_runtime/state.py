"""The socket's connection state, observable by callback or async iterator, and logged."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Callable

__all__ = ["ConnectionState", "StateWatch"]

logger = logging.getLogger("fabric_chat.state")


class ConnectionState(enum.StrEnum):
    """Where the client's socket is."""

    IDLE = "idle"
    """No socket yet: it opens on the first subscription."""
    CONNECTING = "connecting"
    """Opening the socket and authenticating for the first time."""
    CONNECTED = "connected"
    """Authenticated; events flow."""
    RECONNECTING = "reconnecting"
    """The socket dropped; waiting for the backoff or opening a new one."""
    FAILED = "failed"
    """The server refused the token: the socket stays down and every subscription has ended
    with :class:`~fabric_chat_runtime.errors.AuthenticationError`; only ``CLOSED`` follows.
    Close the client and make a new one with a fresh token."""
    CLOSED = "closed"
    """The client is closed; the state never changes again."""


StateCallback = Callable[[ConnectionState], object]


class StateWatch:
    """Holds the current state and tells every watcher about each change."""

    def __init__(self) -> None:
        self._state = ConnectionState.IDLE
        self._callbacks: list[StateCallback] = []
        self._queues: set[asyncio.Queue[ConnectionState]] = set()

    @property
    def state(self) -> ConnectionState:
        """The current state."""
        return self._state

    def set(self, state: ConnectionState) -> None:
        """Move to ``state``, telling every watcher.

        A no-op when unchanged, once ``CLOSED``, and once ``FAILED`` unless ``state`` is
        ``CLOSED``.
        """
        current = self._state
        if state == current or current is ConnectionState.CLOSED:
            return
        if current is ConnectionState.FAILED and state is not ConnectionState.CLOSED:
            return
        logger.info("connection state: %s -> %s", current.value, state.value)
        self._state = state
        for callback in list(self._callbacks):
            try:
                callback(state)
            except Exception:
                logger.exception("connection state callback failed")
        for queue in self._queues:
            queue.put_nowait(state)

    def on_change(self, callback: StateCallback) -> Callable[[], None]:
        """Call ``callback(state)`` on every change; returns a function that stops it."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    async def changes(self) -> AsyncIterator[ConnectionState]:
        """Yield the current state, then every change; ends after ``CLOSED``."""
        queue: asyncio.Queue[ConnectionState] = asyncio.Queue()
        self._queues.add(queue)
        try:
            state = self._state
            while True:
                yield state
                if state is ConnectionState.CLOSED:
                    return
                state = await queue.get()
        finally:
            self._queues.discard(queue)
