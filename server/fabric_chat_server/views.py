"""Stored records as the caller sees them: the generated wire structs of §5."""

from __future__ import annotations

from collections.abc import Sequence

from fabric_chat.models import Address, AddressChannels, Conversation, ConversationMessage

from .store import AddressRecord, ConversationRecord, MessageRecord, Store

__all__ = [
    "ConversationLens",
    "address_view",
    "message_view",
    "own_address_in",
    "peer_address_id",
]


def address_view(record: AddressRecord) -> Address:
    """Return the wire form of an address."""
    visibility = "private" if record.type == "subscriber" else "public"
    base = f"/{visibility}/{record.name}?channel="
    return Address(
        id=record.id,
        name=record.name,
        display_name=record.display_name,
        type=record.type,
        resource_id=record.subscriber_id or record.id,
        channels=AddressChannels(
            messaging=base + "messaging", audio=base + "audio", video=base + "video"
        ),
        locked=record.locked,
        created_at=record.created_at,
        cover_url=record.cover_url,
        preview_url=record.preview_url,
    )


def own_address_in(conversation: ConversationRecord, own_address_ids: Sequence[str]) -> str:
    """Return which of ``own_address_ids`` takes part in the conversation.

    The first of them when none does (e.g. a room, whose only address is the room's).
    """
    for address_id in (conversation.address_a, conversation.address_b):
        if address_id is not None and address_id in own_address_ids:
            return address_id
    return own_address_ids[0]


def peer_address_id(conversation: ConversationRecord, own_address_id: str) -> str:
    """Return the conversation's address as the member with ``own_address_id`` sees it.

    A room's conversation is the room's address; a 1:1 is the other party's address.
    """
    if conversation.kind == "room" or conversation.address_b is None:
        return conversation.address_a
    return (
        conversation.address_b
        if conversation.address_a == own_address_id
        else conversation.address_a
    )


def message_view(
    record: MessageRecord, *, conversation_id: str, conversation_name: str | None
) -> ConversationMessage:
    """Return the wire form of a message, with the union of both dialects' names."""
    return ConversationMessage(
        id=record.id,
        group_id=record.group_id,
        conversation_id=conversation_id,
        from_fabric_address_id=record.from_address_id,
        from_address_id=record.from_address_id,
        user_id=record.subscriber_id,
        user_name=record.user_name,
        ts=record.ts,
        type=record.type,
        subtype=record.subtype,
        kind=record.kind,
        text=record.text,
        metadata=record.metadata,
        details=record.details,
        hidden=record.hidden,
        conversation_name=conversation_name,
    )


class ConversationLens:
    """Resolve conversations as one subscriber sees them, caching look-ups for one request.

    Args:
        store: The store.
        project_id: The viewer's project.
        own_address_ids: The viewer's own addresses.
    """

    def __init__(self, store: Store, project_id: str, own_address_ids: list[str]) -> None:
        self._store = store
        self._project_id = project_id
        self._own = own_address_ids
        self._names: dict[str, str | None] = {}
        self._conversations: dict[str, ConversationRecord | None] = {}

    def address_id_of(self, conversation: ConversationRecord) -> str:
        """Return the conversation's address id as the viewer sees it."""
        return peer_address_id(conversation, own_address_in(conversation, self._own))

    async def name_of(self, conversation: ConversationRecord) -> str | None:
        """Return the conversation's name as the viewer sees it (the peer's display name)."""
        address_id = self.address_id_of(conversation)
        if address_id not in self._names:
            address = await self._store.get_address(self._project_id, address_id)
            self._names[address_id] = None if address is None else address.display_name
        return self._names[address_id]

    async def conversation(self, group_id: str) -> ConversationRecord | None:
        """Return a conversation by group id (cached)."""
        if group_id not in self._conversations:
            self._conversations[group_id] = await self._store.get_conversation(group_id)
        return self._conversations[group_id]

    async def message(self, record: MessageRecord) -> ConversationMessage:
        """Return a message as the viewer sees it."""
        conversation = await self.conversation(record.group_id)
        if conversation is None:
            return message_view(record, conversation_id=record.group_id, conversation_name=None)
        return message_view(
            record,
            conversation_id=self.address_id_of(conversation),
            conversation_name=await self.name_of(conversation),
        )

    async def conversation_view(
        self, conversation: ConversationRecord, last_message: MessageRecord | None = None
    ) -> Conversation:
        """Return the wire form of a conversation as the viewer sees it."""
        address_id = self.address_id_of(conversation)
        return Conversation(
            id=conversation.group_id,
            group_id=conversation.group_id,
            address_id=address_id,
            name=await self.name_of(conversation),
            metadata=conversation.metadata,
            created_at=conversation.created_at,
            last_message_at=conversation.last_message_at,
            from_fabric_address_id=own_address_in(conversation, self._own),
            last_message=None if last_message is None else await self.message(last_message),
        )
