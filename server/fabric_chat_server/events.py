"""Fan a stored message out, as a ``conversation.message`` event, to every member's sessions."""

from __future__ import annotations

import logging
import uuid

import msgspec

from .frames import event_frame
from .hub import Hub
from .store import MessageRecord, Store
from .views import message_view, peer_address_id

__all__ = ["publish_message"]

logger = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode


async def publish_message(store: Store, hub: Hub, record: MessageRecord, project_id: str) -> int:
    """Deliver ``record`` to every session of every member of its conversation.

    Each member sees ``conversation_id`` as its own view of the conversation; the author's
    sockets get ``is_author: true``. Sending never waits on a socket. The message is encoded
    once per view (once for a room, whatever its size), and event ids are one uuid4 per message
    with the member's index, unique per session as acks need.

    Returns:
        The number of sessions the event was delivered to.
    """
    conversation = await store.get_conversation(record.group_id)
    if conversation is None:
        return 0
    payloads: dict[str, msgspec.Raw] = {}  # conversation_id as seen -> the encoded message
    base = uuid.uuid4().hex
    delivered = 0
    for index, (subscriber_id, address_id) in enumerate(await store.members(record.group_id)):
        sessions = hub.sessions_of(subscriber_id)
        if not sessions:
            continue
        conversation_id = peer_address_id(conversation, address_id)
        payload = payloads.get(conversation_id)
        if payload is None:
            address = await store.get_address(project_id, conversation_id)
            view = message_view(
                record,
                conversation_id=conversation_id,
                conversation_name=None if address is None else address.display_name,
            )
            payload = payloads[conversation_id] = msgspec.Raw(_encode(view))
        event_id, frame = event_frame(
            "conversation.message",
            channel=f"signalwire_conversation_{subscriber_id}",
            is_author=subscriber_id == record.subscriber_id,
            payload=payload,
            event_id=f"{base}-{index}",
        )
        for session in sessions:
            session.deliver(event_id, frame)
            delivered += 1
    logger.debug("message %s delivered to %d sessions", record.id, delivered)
    return delivered
