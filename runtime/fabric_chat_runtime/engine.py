"""The engine behind the generated namespaces.

SEAM (frozen signatures): every generated ``chat`` / ``conversation`` method validates its
arguments and then makes exactly one call to a method below, passing the generated struct types
it wants back. The engine speaks the wire protocol of PROTOCOL.md (group dialect, join cache,
pagination, subscriptions over one socket) and never imports the generated package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import msgspec

from .pagination import Page
from .subscriptions import MessageStream, Subscription

__all__ = ["Engine"]

T = TypeVar("T", bound=msgspec.Struct)


class Engine:
    """Transport, session, caches and the protocol's chat semantics for one client."""

    async def request(
        self,
        operation_id: str,
        *,
        result_type: type[T],
        path: Mapping[str, str] | None = None,
        query: Mapping[str, str | int] | None = None,
        body: object = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> T:
        """Call one route of the contract and decode its answer into ``result_type``."""
        raise NotImplementedError

    async def page(
        self,
        operation_id: str,
        *,
        item_type: type[T],
        page_size: int,
        path: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Page[T]:
        """Fetch the first page of a paged route (e.g. ``listConversations``)."""
        raise NotImplementedError

    async def join(self, address_id: str, *, result_type: type[T], timeout: float | None = None) -> T:
        """Join the conversation with ``address_id`` (group dialect); cached per address."""
        raise NotImplementedError

    async def send_message(
        self,
        address_id: str,
        *,
        text: str,
        metadata: Mapping[str, Any] | None,
        details: Mapping[str, Any] | None,
        result_type: type[T],
        timeout: float | None = None,
    ) -> T:
        """Join if needed, then send; safe to retry (idempotency key). Returns a Conversation."""
        raise NotImplementedError

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
        raise NotImplementedError

    def iter_history(
        self,
        address_id: str | None,
        *,
        item_type: type[T],
        page_size: int,
        chat_only: bool,
    ) -> AsyncIterator[T]:
        """Every item of :meth:`history`, page after page, newest first."""
        raise NotImplementedError

    async def subscribe(
        self,
        *,
        item_type: type[T],
        on_message: Callable[[T], object],
        address_id: str | None,
        chat_only: bool,
    ) -> Subscription:
        """Call ``on_message`` (sync or async) for each new message; ``None`` means every conversation."""
        raise NotImplementedError

    def stream(
        self,
        *,
        item_type: type[T],
        address_id: str | None,
        chat_only: bool,
    ) -> MessageStream[T]:
        """The same feed as :meth:`subscribe`, as ``async with ... as messages: async for ...``."""
        raise NotImplementedError
