"""Live message feeds over the client's one socket."""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["MessageStream", "Subscription"]

T = TypeVar("T")


class Subscription:
    """A live filter on the client's socket; :meth:`cancel` ends it (idempotent)."""

    def cancel(self) -> None:
        raise NotImplementedError


class MessageStream(Generic[T]):
    """``async with engine.stream(...) as messages: async for message in messages: ...``."""

    async def __aenter__(self) -> MessageStream[T]:
        raise NotImplementedError

    async def __aexit__(self, *exc_info: object) -> None:
        raise NotImplementedError

    def __aiter__(self) -> MessageStream[T]:
        return self

    async def __anext__(self) -> T:
        raise NotImplementedError
