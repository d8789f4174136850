"""Models turn into plain data; ``async for item in page`` walks every page."""

from __future__ import annotations

import json

import fabric_chat.models
import msgspec
from fabric_chat import AsyncClient, ConversationChatMessage, SubscriberInfo
from fabric_chat_server.testing import LocalServer


def test_every_model_has_to_dict_and_to_json() -> None:
    message = ConversationChatMessage(id="m1", conversation_id="c1", ts=1.5, text="hi")
    plain = message.to_dict()
    assert plain["id"] == "m1"
    assert plain["text"] == "hi"
    assert json.loads(json.dumps(plain)) == plain  # json.dumps takes it
    assert json.loads(message.to_json()) == plain
    assert message.to_json(indent=2).startswith("{\n  ")
    assert msgspec.convert(plain, ConversationChatMessage) == message
    models = [getattr(fabric_chat.models, name) for name in fabric_chat.models.__all__]
    structs = [m for m in models if isinstance(m, type) and issubclass(m, msgspec.Struct)]
    assert len(structs) > 20
    assert all(hasattr(m, "to_dict") and hasattr(m, "to_json") for m in structs)
    info = msgspec.json.decode(b'{"id": "s", "fabric_addresses": []}', type=SubscriberInfo)
    assert info.to_dict()["id"] == "s"


async def test_async_for_over_a_page_walks_every_page() -> None:
    async with LocalServer() as server:
        alice, bob = await server.token("alice"), await server.token("bob")
        bob_address = await server.address_of("bob")
        alice_address = await server.address_of("alice")
        async with AsyncClient(token=alice) as a, AsyncClient(token=bob) as b:
            for n in range(5):
                await a.chat.send_message(address_id=bob_address, text=f"m{n}")
            page = await b.chat.get_messages(address_id=alice_address, page_size=2)
            assert [m.text for m in page] == ["m4", "m3"]  # for: this page
            assert [m.text async for m in page] == ["m4", "m3", "m2", "m1", "m0"]  # every page
