"""The chat semantics of the namespaces, typed against the generated models.

:class:`ChatEngine` is the engine ``spec/chat.yaml`` names (``client.engine``): the generic
runtime engine plus what no single operation expresses, the seed page's address-based API over
the group dialect of the wire (PROTOCOL.md section 1):

- the caller's own address and each address's group, each asked once and kept;
- ``send_message`` joins when needed and returns the :class:`~fabric_chat.models.Conversation`
  built from the join and the message just sent;
- :class:`ChatView`, which says what a chat history, a backfill and a live chat feed show:
  chat messages only, each reported under the address the caller asked for.
"""

# The engine's methods take a per-call ``timeout`` (seconds) by design.

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from fabric_chat_runtime.engine import Engine
from fabric_chat_runtime.errors import NotFoundError, PermissionDeniedError, ProtocolError
from fabric_chat_runtime.pagination import Page
from fabric_chat_runtime.retry import IDEMPOTENCY_KEY_HEADER
from fabric_chat_runtime.subscriptions import MessageStream, Subscription

from ..models import (
    Conversation,
    ConversationChatMessage,
    ConversationMessage,
    JoinConversationRequest,
    JoinConversationResponse,
    SendMessageRequest,
    SubscriberInfo,
)

__all__ = ["ChatEngine", "ChatView"]

logger = logging.getLogger("fabric_chat.engine")

T = TypeVar("T", bound=msgspec.Struct)
S = TypeVar("S")
Message = ConversationMessage | ConversationChatMessage
"""What a chat view reads: either model has the subtype and the conversation id."""

_CHAT = "chat"
_decode_event_message = msgspec.json.Decoder(ConversationMessage).decode


def _as(value: msgspec.Struct, result_type: type[T]) -> T:
    """Return ``value`` as ``result_type`` (itself when it already is one)."""
    if isinstance(value, result_type):
        return value
    try:
        return msgspec.convert(value, result_type, from_attributes=True)
    except msgspec.ValidationError as exc:
        raise ProtocolError(
            f"cannot read a {type(value).__name__} as {result_type}: {exc}"
        ) from None


@dataclass(frozen=True, slots=True)
class ChatView:
    """What one chat history, backfill or live feed shows.

    Attributes:
        chat_only: Only chat messages (``subtype == "chat"``); call logs are left out.
        address_id: The conversation, by the address the caller asked for; ``None``: every one.
        group_id: The same conversation by its group (how live events name it).
    """

    chat_only: bool
    address_id: str | None = None
    group_id: str | None = None

    @property
    def rewrite_to(self) -> str | None:
        """The ``conversation_id`` a chat view of one address shows every message under."""
        return self.address_id if self.chat_only else None

    def keeps(self, item: Message) -> bool:
        """Whether a message is in the view."""
        return not self.chat_only or item.subtype == _CHAT

    def shown(self, item: S) -> S:
        """Return the message under the address asked for (the server knows it by its group)."""
        target = self.rewrite_to
        if target is None:
            return item
        message: Message = item  # type: ignore[assignment]
        if message.conversation_id == target:
            return item
        return msgspec.structs.replace(message, conversation_id=target)  # type: ignore[return-value]

    def routes(self, payload: msgspec.Raw) -> bool:
        """Whether a ``conversation.message`` event is in the view."""
        try:
            message = _decode_event_message(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
        if self.chat_only and message.subtype != _CHAT:
            return False
        if self.group_id is None:
            return True
        return message.group_id == self.group_id or (
            message.group_id is None and message.conversation_id == self.address_id
        )


class ChatEngine(Engine):
    """The runtime engine with the chat namespace's semantics: joins, sends, chat views."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._me: str | None = None
        self._me_lock = asyncio.Lock()
        self._joins: dict[str, JoinConversationResponse] = {}
        self._join_locks: dict[str, asyncio.Lock] = {}

    async def my_address(self, *, timeout: float | None = None) -> str:
        """Return the caller's own address id (the first of its ``fabric_addresses``); kept."""
        async with self._me_lock:
            if self._me is None:
                info = await self.request(
                    "getSubscriberInfo", result_type=SubscriberInfo, timeout=timeout
                )
                if not info.fabric_addresses:
                    raise ProtocolError("the subscriber has no address")
                self._me = info.fabric_addresses[0].id
            return self._me

    async def _joined(self, address_id: str, timeout: float | None) -> JoinConversationResponse:
        joined = self._joins.get(address_id)
        if joined is not None:
            return joined
        async with self._join_locks.setdefault(address_id, asyncio.Lock()):
            joined = self._joins.get(address_id)
            if joined is None:
                me = await self.my_address(timeout=timeout)
                body = JoinConversationRequest(
                    from_fabric_address_id=me, fabric_address_ids=[address_id, me]
                )
                joined = await self.request(
                    "joinConversation",
                    result_type=JoinConversationResponse,
                    body=body,
                    timeout=timeout,
                )
                self._joins[address_id] = joined
            return joined

    async def join(
        self, address_id: str, *, result_type: type[T], timeout: float | None = None
    ) -> T:
        """Join the conversation with ``address_id`` (group dialect); asked once per address."""
        return _as(await self._joined(address_id, timeout), result_type)

    def _forget(self, address_id: str, joined: JoinConversationResponse) -> None:
        """Drop what the server no longer knows: the join of ``address_id`` and who I am."""
        if self._joins.get(address_id) is joined:
            del self._joins[address_id]
        self._me = None

    async def _post_message(
        self,
        joined: JoinConversationResponse,
        message: SendMessageRequest,
        headers: dict[str, str],
        timeout: float | None,
    ) -> tuple[ConversationMessage, str]:
        me = await self.my_address(timeout=timeout)
        body = msgspec.structs.replace(message, group_id=joined.group_id, from_fabric_address_id=me)
        sent = await self.request(
            "sendMessage",
            result_type=ConversationMessage,
            body=body,
            headers=headers,
            timeout=timeout,
        )
        return sent, me

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
        caller's address and ``last_message`` the message (nothing is read back).
        """
        sent_headers = {key: value for key, value in (headers or {}).items() if value is not None}
        sent_headers.setdefault(IDEMPOTENCY_KEY_HEADER, str(uuid.uuid4()))
        outgoing = SendMessageRequest(
            text=text,
            metadata=None if metadata is None else dict(metadata),
            details=None if details is None else dict(details),
        )
        cached = address_id in self._joins
        joined = await self._joined(address_id, timeout)
        try:
            message, me = await self._post_message(joined, outgoing, sent_headers, timeout)
        except (NotFoundError, PermissionDeniedError) as exc:
            if not cached:
                raise
            logger.info(
                "the server no longer knows a cached conversation (%d); joining again", exc.status
            )
            self._forget(address_id, joined)
            joined = await self._joined(address_id, timeout)
            message, me = await self._post_message(joined, outgoing, sent_headers, timeout)
        conversation = Conversation(
            id=joined.group_id,
            group_id=joined.group_id,
            address_id=address_id,
            name=message.conversation_name,
            last_message_at=message.ts,
            from_fabric_address_id=me,
            last_message=message,
        )
        return _as(conversation, result_type)

    def _history_path(self, address_id: str | None) -> str:
        """One conversation's messages, by the address id (the route resolves it and creates
        nothing: a history read never joins), or every message of the caller."""
        if address_id is None:
            return self.route_path("listMessages")
        return self.route_path("listConversationMessages", address_id)

    async def conversation_history(
        self,
        address_id: str | None,
        *,
        item_type: type[T],
        page_size: int,
        chat_only: bool,
        timeout: float | None = None,
    ) -> Page[T]:
        """Messages newest first: one conversation's (``address_id``) or all of the caller's.

        With ``chat_only`` the pages show a :class:`ChatView`: chat messages only, refilled to
        ``page_size`` from the next server pages, each under ``address_id``.
        """
        view = ChatView(chat_only=True, address_id=address_id) if chat_only else None
        return await self.history_pages(
            self._history_path(address_id),
            item_type=item_type,
            page_size=page_size,
            view=view,
            timeout=timeout,
        )

    async def subscribe_conversation(
        self,
        *,
        item_type: type[T],
        on_message: Callable[[T], object],
        address_id: str | None,
        chat_only: bool,
    ) -> Subscription:
        """Call ``on_message`` (sync or async) for each new message of the conversation.

        Raises:
            AuthenticationError: The server refused the token (now or on an earlier connect).
        """
        self.live.socket.raise_if_refused()
        group_id = None
        if address_id is not None:
            group_id = (await self._joined(address_id, None)).group_id
        view = ChatView(chat_only=chat_only, address_id=address_id, group_id=group_id)
        return await self.open_feed(
            item_type=item_type,
            on_message=on_message,
            view=view,
            history_path=self._history_path(address_id),
        )

    def conversation_stream(
        self, *, item_type: type[T], address_id: str | None, chat_only: bool
    ) -> MessageStream[T]:
        """Return the feed of :meth:`subscribe_conversation` as an async iterator."""

        async def start(on_message: Callable[[T], None]) -> Subscription:
            return await self.subscribe_conversation(
                item_type=item_type,
                on_message=on_message,
                address_id=address_id,
                chat_only=chat_only,
            )

        return MessageStream(start)
