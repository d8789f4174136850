"""Every paged method has an ``iter_*`` twin, generated from the spec, with ``timeout``.

``chat.iter_messages``, ``conversation.iter_conversations``, ``conversation.iter_messages`` and
``conversation.iter_conversation_messages`` walk every page against the real server, in the
async and the sync client; ``timeout`` bounds each page's request.
"""

from __future__ import annotations

import pytest
from fabric_chat import APITimeoutError, AsyncClient, Client
from fabric_chat_server.testing import ThreadedServer

from .conftest import Canned, FakeServer, World


async def test_every_iter_twin_walks_every_page(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as alice:
        sent = [f"m{i}" for i in range(7)]
        for text in sent:
            await alice.chat.send_message(address_id=world.bob, text=text)
        newest_first = list(reversed(sent))
        chat = [m.text async for m in alice.chat.iter_messages(address_id=world.bob, page_size=2)]
        assert chat == newest_first
        mine = alice.conversation.iter_messages(page_size=3, timeout=5.0)
        assert [m.text async for m in mine] == newest_first
        one = alice.conversation.iter_conversation_messages(address_id=world.bob, page_size=2)
        assert [m.text async for m in one] == newest_first
        conversations = [c async for c in alice.conversation.iter_conversations(page_size=1)]
        assert len(conversations) == 1
        assert conversations[0].group_id == (await alice.chat.join(address_id=world.bob)).group_id


def test_the_sync_client_has_the_same_twins() -> None:
    with ThreadedServer() as server:
        alice_token = server.token("alice", display_name="Alice")
        server.token("bob", display_name="Bob")
        bob = server.address_of("bob")
        room = server.create_room("general")
        with Client(token=alice_token) as alice:
            for text in ("a", "b", "c"):
                alice.chat.send_message(address_id=bob, text=text)
            alice.chat.send_message(address_id=room, text="to the room")
            walked = alice.conversation.iter_conversation_messages(address_id=bob, page_size=1)
            assert [m.text for m in walked] == ["c", "b", "a"]
            everything = [m.text for m in alice.conversation.iter_messages(page_size=2)]
            assert everything == ["to the room", "c", "b", "a"]
            rooms = [c.address_id for c in alice.conversation.iter_conversations(page_size=1)]
            assert sorted(rooms, key=str) == sorted([bob, room], key=str)
            stopped = alice.chat.iter_messages(address_id=bob, page_size=1)
            assert next(stopped).text == "c"
            stopped.close()  # leaving a walk early closes it on the client's loop


async def test_timeout_bounds_each_page_of_an_iter_twin(server: FakeServer) -> None:
    for _ in range(3):
        server.add("hello")
    async with AsyncClient(token=server.token, max_retries=0) as client:
        server.fail("/api/fabric/conversations/", Canned(200, delay=1.0))
        with pytest.raises(APITimeoutError):
            async for _ in client.chat.iter_messages(address_id="addr-bob", timeout=0.05):
                pass
        walked = [m.text async for m in client.chat.iter_messages(address_id="addr-bob")]
    assert walked == ["hello"] * 3
