"""The owner of the client's background tasks: one TaskGroup, and the first failure kept.

Nothing is swallowed: a child that raises ends the group (asyncio cancels its siblings: the
socket, the feeds, the token refresher), and the owner keeps that exception. The client raises
it from its next call (:meth:`TaskOwner.raise_if_failed`) and from ``aclose()`` when no call
has raised it yet, so a background failure always reaches the code that owns the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from .errors import ClientClosedError

__all__ = ["TaskOwner"]

logger = logging.getLogger("fabric_chat.tasks")


def _first_failure(error: BaseException) -> BaseException:
    """Return the first exception of a (nested) exception group, or ``error`` itself."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


class TaskOwner:
    """Runs tasks inside one :class:`asyncio.TaskGroup` until :meth:`aclose`.

    The group is held open by a runner task that the owner starts on first use, so a client
    works the same with or without ``async with``; the caller's own task is never cancelled
    by a child.
    """

    def __init__(self) -> None:
        self._runner: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._failure: BaseException | None = None
        self._reported = False

    async def _start(self) -> asyncio.TaskGroup:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="fabric-chat-tasks")
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready, self._runner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        self.raise_if_failed()
        assert self._group is not None
        return self._group

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._ready.set()
                await self._stop.wait()
                raise _Stop
        except* _Stop:
            pass
        except* Exception as failed:
            self._failure = _first_failure(failed)
            logger.error("a background task failed: %r", self._failure)
        finally:
            self._group = None

    @property
    def failure(self) -> BaseException | None:
        """The exception that ended the group, if a child raised one."""
        return self._failure

    def raise_if_failed(self) -> None:
        """Raise the exception of the child that ended the group, if one did.

        Raises:
            BaseException: That child's exception, as it was raised.
        """
        if self._failure is not None:
            self._reported = True
            raise self._failure

    async def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Start ``coro`` as a task of the group.

        Raises:
            ClientClosedError: The owner is closed.
            BaseException: A child failed earlier (its exception, see :meth:`raise_if_failed`).
        """
        if self._stop.is_set():
            coro.close()
            raise ClientClosedError("the client is closed")
        try:
            group = await self._start()
        except BaseException:
            coro.close()
            raise
        return group.create_task(coro, name=name)

    async def aclose(self) -> None:
        """Cancel every task and wait for all of them to end.

        Raises:
            BaseException: A child's failure that no call has raised yet.
        """
        self._stop.set()
        if self._runner is not None:
            await asyncio.shield(self._runner)
        if self._failure is not None and not self._reported:
            self.raise_if_failed()


class _Stop(Exception):
    """Raised inside the group to end it: cancels every child still running."""
