"""Fan a stored message out, as a ``conversation.message`` event, to every member's sessions."""

from __future__ import annotations

import logging
from typing import Protocol

import msgspec
from fabric_chat._protocol import CONVERSATION_MESSAGE, event_frame

from .hub import Hub, event_id_of
from .store import AddressRecord, ConversationRecord, MessageRecord
from .views import message_view, peer_address_id

__all__ = ["FanoutReads", "message_event", "publish_message"]

logger = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode


class FanoutReads(Protocol):
    """What the fan-out reads: a :class:`Store`, or a cache in front of one."""

    async def get_conversation(self, group_id: str) -> ConversationRecord | None: ...

    async def members(self, group_id: str) -> list[tuple[str, str]]: ...

    async def get_address(self, project_id: str, address_id: str) -> AddressRecord | None: ...


async def _payload(
    store: FanoutReads, conversation: ConversationRecord, record: MessageRecord, address_id: str
) -> msgspec.Raw:
    conversation_id = peer_address_id(conversation, address_id)
    address = await store.get_address(conversation.project_id, conversation_id)
    view = message_view(
        record,
        conversation_id=conversation_id,
        conversation_name=None if address is None else address.display_name,
    )
    return msgspec.Raw(_encode(view))


def _frame(
    record: MessageRecord, subscriber_id: str, payload: msgspec.Raw, protocol: str
) -> tuple[str, bytes]:
    # The channel is the receiving session's protocol: the current official client (4.0)
    # drops, as stale, every event whose event_channel does not contain its protocol.
    return event_frame(
        CONVERSATION_MESSAGE,
        channel=protocol,
        is_author=subscriber_id == record.subscriber_id,
        payload=payload,
        event_id=event_id_of(record.group_id, record.seq),
    )


async def message_event(
    store: FanoutReads, record: MessageRecord, subscriber_id: str, protocol: str
) -> tuple[str, bytes] | None:
    """Return ``(event id, frame)`` of ``record`` as session ``protocol`` of ``subscriber_id``
    receives it (a replay).

    ``None`` when the subscriber is not a member of the message's conversation.
    """
    conversation = await store.get_conversation(record.group_id)
    if conversation is None:
        return None
    for member, address_id in await store.members(record.group_id):
        if member == subscriber_id:
            payload = await _payload(store, conversation, record, address_id)
            return _frame(record, subscriber_id, payload, protocol)
    return None


async def publish_message(store: FanoutReads, hub: Hub, record: MessageRecord) -> int:
    """Deliver ``record`` to every live session of every member of its conversation.

    Each member sees ``conversation_id`` as its own view of the conversation; the author's
    sockets get ``is_author: true``. Sending never waits on a socket and holds no lock: a
    session that gets events out of order, or has no room, catches up from the store. The
    message is encoded once per view (once for a room, whatever its size) and wrapped once per
    session (whose protocol is the event's channel); the event id is the message's position,
    the same for every session.

    Returns:
        The number of live sessions the event was offered to.
    """
    conversation = await store.get_conversation(record.group_id)
    if conversation is None:
        return 0
    payloads: dict[str, msgspec.Raw] = {}  # the member's address -> the encoded message
    delivered = 0
    for subscriber_id, address_id in await store.members(record.group_id):
        sessions = hub.sessions_of(subscriber_id)
        if not sessions:
            continue
        view_key = peer_address_id(conversation, address_id)
        payload = payloads.get(view_key)
        if payload is None:
            payload = await _payload(store, conversation, record, address_id)
            payloads[view_key] = payload
        for session in sessions:
            _, frame = _frame(record, subscriber_id, payload, session.protocol)
            session.deliver(record.group_id, record.seq, frame)
            delivered += 1
    logger.debug("message %s offered to %d sessions", record.id, delivered)
    return delivered
