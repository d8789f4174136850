"""Which conversation a request means, in either dialect, and whether the caller may use it.

A 1:1 conversation between two subscriber addresses has one group, found by the pair; a room
(or app) address has one group that any subscriber of the project may join. Nothing is created
until every check has passed.
"""

from __future__ import annotations

import time
import uuid

from fabric_chat.models import JoinConversationRequest, SendMessageRequest

from .callers import Caller
from .errors import ApiError
from .store import AddressRecord, ConversationRecord, Store
from .views import own_address_in

__all__ = ["resolve_for_history", "resolve_for_join", "resolve_for_send"]


def _pair_key(caller: Caller, address: AddressRecord) -> str:
    if address.type == "subscriber":
        return "direct:" + "|".join(sorted((caller.own.id, address.id)))
    return "room:" + address.id


async def _member_group(store: Store, caller: Caller, group_id: str) -> ConversationRecord | None:
    """Return the conversation whose group id is ``group_id`` when it exists in the project.

    Raises:
        ApiError: 403 when the caller is not a member.
    """
    conversation = await store.get_conversation(group_id)
    if conversation is None or conversation.project_id != caller.project_id:
        return None
    if not await store.is_member(conversation.group_id, caller.subscriber.id):
        raise ApiError(403, "the caller is not a member of this conversation")
    return conversation


async def _address(store: Store, caller: Caller, address_id: str, attribute: str) -> AddressRecord:
    address = await store.get_address(caller.project_id, address_id)
    if address is None:
        raise ApiError(404, "no such address or conversation", attribute=attribute)
    if address.id in caller.address_ids:
        raise ApiError(
            422, "a conversation needs another address than your own", attribute=attribute
        )
    if address.type == "subscriber" and address.subscriber_id is None:
        raise ApiError(404, "no such address or conversation", attribute=attribute)
    return address


async def _open(store: Store, caller: Caller, address: AddressRecord) -> ConversationRecord:
    """Return the conversation with ``address``, created and joined when needed."""
    key = _pair_key(caller, address)
    members = [(caller.subscriber.id, caller.own.id)]
    if address.type == "subscriber":
        assert address.subscriber_id is not None
        members.append((address.subscriber_id, address.id))
        draft = ConversationRecord(
            group_id=str(uuid.uuid4()),
            project_id=caller.project_id,
            kind="direct",
            address_a=caller.own.id,
            address_b=address.id,
            name="",
            created_at=time.time(),
        )
    else:
        draft = ConversationRecord(
            group_id=str(uuid.uuid4()),
            project_id=caller.project_id,
            kind="room",
            address_a=address.id,
            address_b=None,
            name=address.display_name,
            created_at=time.time(),
        )
    return await store.open_conversation(draft, key, members)


async def _by_key(
    store: Store, caller: Caller, key: str, attribute: str
) -> tuple[ConversationRecord, str]:
    """Resolve a group id (member only) or an address id (creating) to a conversation."""
    conversation = await _member_group(store, caller, key)
    if conversation is not None:
        return conversation, own_address_in(conversation, caller.address_ids)
    address = await _address(store, caller, key, attribute)
    return await _open(store, caller, address), caller.own.id


def _from_address(caller: Caller, given: str | None, attribute: str) -> str:
    if given is None:
        return caller.own.id
    if given not in caller.address_ids:
        raise ApiError(403, f"{attribute} is not one of your addresses", attribute=attribute)
    return given


async def resolve_for_join(
    store: Store, caller: Caller, body: JoinConversationRequest
) -> tuple[ConversationRecord, str]:
    """Return the conversation a join means (created and joined) and the caller's address.

    Raises:
        ApiError: 422 joining only yourself or more than one other address, or mixing the
            dialects' keys; 403 joining by the
            group id of a conversation the caller is not in, or from another's address; 404.
    """
    if body.fabric_address_ids or body.from_fabric_address_id is not None:
        if body.conversation_id is not None:
            raise ApiError(
                422,
                "give conversation_id (address dialect) or fabric_address_ids (group dialect), "
                "not both",
                attribute="conversation_id",
            )
        own = _from_address(caller, body.from_fabric_address_id, "from_fabric_address_id")
        others = list(
            dict.fromkeys(a for a in body.fabric_address_ids if a not in caller.address_ids)
        )
        if not others:
            raise ApiError(
                422,
                "fabric_address_ids must name an address besides your own",
                attribute="fabric_address_ids",
            )
        if len(others) > 1:
            for other in others:  # an unknown address is a 404 before the count is a 422
                await _address(store, caller, other, "fabric_address_ids")
            raise ApiError(
                422,
                "a conversation joins one other address (or a room)",
                attribute="fabric_address_ids",
            )
        conversation, _ = await _by_key(store, caller, others[0], "fabric_address_ids")
        return conversation, own
    if body.conversation_id is None:
        raise ApiError(
            422, "conversation_id or fabric_address_ids is required", attribute="conversation_id"
        )
    return await _by_key(store, caller, body.conversation_id, "conversation_id")


async def resolve_for_send(
    store: Store, caller: Caller, body: SendMessageRequest
) -> tuple[ConversationRecord, str]:
    """Return the conversation a send goes to and the sender's address.

    Raises:
        ApiError: 403 not a member of the group or not the caller's address, 404 unknown, 422
            for a body that mixes the dialects' keys or names two different senders.
    """
    if body.group_id is not None and body.conversation_id is not None:
        raise ApiError(
            422,
            "give group_id (group dialect) or conversation_id (address dialect), not both",
            attribute="conversation_id",
        )
    for name, value in (
        ("from_fabric_address_id", body.from_fabric_address_id),
        ("from_address_id", body.from_address_id),
    ):
        _from_address(caller, value, name)  # 403 for an address not the caller's, first
    if (
        body.from_fabric_address_id is not None
        and body.from_address_id is not None
        and body.from_fabric_address_id != body.from_address_id
    ):
        raise ApiError(
            422,
            "from_fabric_address_id and from_address_id name different addresses",
            attribute="from_address_id",
        )
    given = body.from_fabric_address_id or body.from_address_id
    attribute = "from_fabric_address_id" if body.from_fabric_address_id else "from_address_id"
    if body.group_id is not None:
        own = _from_address(caller, given, attribute)
        conversation = await _member_group(store, caller, body.group_id)
        if conversation is None:
            raise ApiError(404, "no such conversation", attribute="group_id")
        return conversation, own
    if body.conversation_id is None:
        raise ApiError(422, "group_id or conversation_id is required", attribute="group_id")
    own = _from_address(caller, given, attribute)
    conversation, _ = await _by_key(store, caller, body.conversation_id, "conversation_id")
    return conversation, own


async def resolve_for_history(store: Store, caller: Caller, key: str) -> ConversationRecord | None:
    """Return the conversation whose history ``key`` (group id or address id) names.

    Returns ``None`` for a 1:1 with an address the caller has never talked to (an empty
    history); creates nothing.

    Raises:
        ApiError: 403 not a member; 404 unknown key.
    """
    conversation = await _member_group(store, caller, key)
    if conversation is not None:
        return conversation
    address = await _address(store, caller, key, "key")
    existing = await store.find_conversation(caller.project_id, _pair_key(caller, address))
    if existing is None:
        if address.type == "subscriber":
            return None
        raise ApiError(403, "join the room before reading it")
    if not await store.is_member(existing.group_id, caller.subscriber.id):
        raise ApiError(403, "join the room before reading it")
    return existing
