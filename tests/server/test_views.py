"""How a conversation looks to one of its members: which address is theirs, which is the peer."""

from __future__ import annotations

from fabric_chat_server import conversations, views
from fabric_chat_server.store import ConversationRecord
from fabric_chat_server.views import own_address_in, peer_address_id


def _conversation(address_a: str, address_b: str | None) -> ConversationRecord:
    kind = "direct" if address_b is not None else "room"
    return ConversationRecord(
        group_id="g",
        project_id="p",
        kind=kind,
        address_a=address_a,
        address_b=address_b,
        name="",
        created_at=0.0,
    )


def test_own_address_in_a_conversation() -> None:
    direct = _conversation("alice-1", "bob-1")
    assert own_address_in(direct, ["alice-1", "alice-2"]) == "alice-1"
    assert own_address_in(direct, ["bob-0", "bob-1"]) == "bob-1"
    assert peer_address_id(direct, own_address_in(direct, ["bob-0", "bob-1"])) == "alice-1"
    # Not a party (a room's conversation has only the room's address): the first own address.
    room = _conversation("room-1", None)
    assert own_address_in(room, ["carol-1", "carol-2"]) == "carol-1"
    assert peer_address_id(room, own_address_in(room, ["carol-1"])) == "room-1"


def test_conversation_resolution_and_views_share_one_rule() -> None:
    """Resolving a request and rendering its answer agree on the caller's own address."""
    assert conversations.own_address_in is views.own_address_in
    assert not hasattr(conversations, "_own_in")
    assert not hasattr(views.ConversationLens, "own_address_in")
