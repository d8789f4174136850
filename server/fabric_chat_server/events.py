"""Fan a stored message out, as a ``conversation.message`` event, to every member's sessions."""

from __future__ import annotations

import logging

from .frames import event_frame
from .hub import Hub
from .store import MessageRecord, Store
from .views import message_view, peer_address_id

__all__ = ["publish_message"]

logger = logging.getLogger(__name__)


async def publish_message(store: Store, hub: Hub, record: MessageRecord, project_id: str) -> int:
    """Deliver ``record`` to every session of every member of its conversation.

    Each member sees ``conversation_id`` as its own view of the conversation; the author's
    sockets get ``is_author: true``. Sending never waits on a socket.

    Returns:
        The number of sessions the event was delivered to.
    """
    conversation = await store.get_conversation(record.group_id)
    if conversation is None:
        return 0
    names: dict[str, str | None] = {}
    delivered = 0
    for subscriber_id, address_id in await store.members(record.group_id):
        sessions = hub.sessions_of(subscriber_id)
        if not sessions:
            continue
        conversation_id = peer_address_id(conversation, address_id)
        if conversation_id not in names:
            address = await store.get_address(project_id, conversation_id)
            names[conversation_id] = None if address is None else address.display_name
        payload = message_view(
            record, conversation_id=conversation_id, conversation_name=names[conversation_id]
        )
        event_id, frame = event_frame(
            "conversation.message",
            channel=f"signalwire_conversation_{subscriber_id}",
            is_author=subscriber_id == record.subscriber_id,
            payload=payload,
        )
        for session in hub.sessions_of(subscriber_id):
            session.deliver(event_id, frame)
            delivered += 1
    logger.debug("message %s delivered to %d sessions", record.id, delivered)
    return delivered
