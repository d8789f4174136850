"""An owner for the engine's background tasks: one TaskGroup, held open by a runner task."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .errors import ClientClosedError
from .logs import get_logger

__all__ = ["TaskOwner"]

logger = get_logger(__name__)


class TaskOwner:
    """Runs tasks inside one :class:`asyncio.TaskGroup` until :meth:`aclose`.

    The group lives in its own runner task, so a failing child never cancels the caller's
    task; each child is guarded, logging (not raising) its unexpected exceptions.
    """

    def __init__(self) -> None:
        self._runner: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self) -> None:
        """Open the group (once)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="fabric-chat-tasks")
        await self._ready.wait()

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            self._ready.set()
            await self._stop.wait()
            for task in list(self._tasks):
                task.cancel()

    async def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Start ``coro`` as a task of the group.

        Raises:
            ClientClosedError: The owner is closed.
        """
        if self._closed:
            coro.close()
            raise ClientClosedError("the client is closed")
        await self.start()
        assert self._group is not None
        task = self._group.create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except Exception:
            logger.exception("background task %s failed", name)

    async def aclose(self) -> None:
        """Cancel every task and wait for all of them to end."""
        self._closed = True
        self._stop.set()
        if self._runner is not None:
            await self._runner
