"""End to end: ``fabric_chat.AsyncClient`` against the real server (``LocalServer``) in-process.

Every example of the seed page, written in Python, is a test here, and so is DESIGN.md's
public API walk-through.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import fabric_chat
import pytest
from fabric_chat import AsyncClient, ConversationChatMessage, ConversationMessage
from fabric_chat_runtime.state import ConnectionState
from fabric_chat_server.store import MessageRecord

from .conftest import World, eventually, make_token


async def test_seed_get_messages_example(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as client:
        await client.chat.send_message(address_id=world.bob, text="hi bob")
        # await client.chat.getMessages({ addressId: "..." });
        page = await client.chat.get_messages(address_id=world.bob)
    assert [m.text for m in page.data] == ["hi bob"]
    message = page.data[0]
    assert isinstance(message, ConversationChatMessage)
    assert message.conversation_id == world.bob
    assert message.subtype == "chat"
    assert message.type == "message"
    assert not page.has_next
    assert not page.has_prev


async def test_seed_subscribe_example(world: World) -> None:
    async with (
        AsyncClient(token=world.bob_token) as bob,
        AsyncClient(token=world.alice_token) as alice,
    ):
        got: list[ConversationChatMessage] = []
        # const { cancel } = await client.chat.subscribe({ addressId, onMessage(msg) {...} });
        subscription = await bob.chat.subscribe(address_id=world.alice, on_message=got.append)
        await alice.chat.send_message(address_id=world.bob, text="ping")
        await eventually(lambda: len(got) == 1)
        # cancel();
        subscription.cancel()
        await alice.chat.send_message(address_id=world.bob, text="after cancel")
        await asyncio.sleep(0.1)
        alice_id = (await alice.get_subscriber_info()).id
        history = await bob.chat.get_messages(address_id=world.alice)
    assert [m.text for m in got] == ["ping"]
    assert got[0].conversation_id == world.alice
    assert got[0].user_id == alice_id  # the sender's subscriber id
    assert [m.id for m in history.data[1:]] == [got[0].id]
    assert all(m.user_id == alice_id and m.conversation_id == world.alice for m in history.data)


def test_seed_conversation_chat_message_example_decodes() -> None:
    example = b"""{
        "id": "3c114417-5cc0-4d03-a30f-c90659028d73",
        "conversation_id": "9dbe9e94-c797-461e-b5a3-af6d095deaf4",
        "user_id": "cecbe021-ff86-4ac6-bdf3-399ca477ad6f",
        "ts": 1708192187.6779745,
        "details": {},
        "type": "message",
        "subtype": "log"
    }"""
    from fabric_chat_runtime.contract import decoder

    message = decoder(ConversationChatMessage).decode(example)
    assert message.user_id == "cecbe021-ff86-4ac6-bdf3-399ca477ad6f"
    assert message.ts == 1708192187.6779745
    assert message.subtype == "log"


async def test_seed_send_message_example(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as client:
        # await client.chat.sendMessage({ addressId, text: "Hello from SignalWire!" });
        conversation = await client.chat.send_message(
            address_id=world.bob, text="Hello from SignalWire!"
        )
        info = await client.get_subscriber_info()
    assert isinstance(conversation, fabric_chat.Conversation)
    assert conversation.address_id == world.bob
    assert conversation.from_fabric_address_id == world.alice
    assert conversation.id == conversation.group_id
    assert conversation.last_message is not None
    assert conversation.last_message.text == "Hello from SignalWire!"
    assert conversation.last_message.user_id == info.id
    assert conversation.last_message_at == conversation.last_message.ts


async def test_seed_join_example_is_idempotent_and_cached(world: World) -> None:
    joins: list[str] = []

    async def on_request_start(
        session: object, context: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        joins.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        async with AsyncClient(token=world.alice_token, session=session) as client:
            # await chat.join({ addressId: "..." });
            first, second = await asyncio.gather(
                client.chat.join(address_id=world.bob), client.chat.join(address_id=world.bob)
            )
            third = await client.conversation.join(address_id=world.bob)
        assert not session.closed  # the caller's session stays the caller's
    assert first.group_id == second.group_id == third.group_id
    assert world.alice in first.fabric_address_ids
    assert world.bob in first.fabric_address_ids
    assert joins.count("/api/fabric/conversations/join") == 1
    assert joins.count("/api/fabric/subscriber/info") == 1


async def test_design_walkthrough(world: World) -> None:
    async with AsyncClient(token=world.alice_token, base_url=world.server.base_url) as client:
        await client.chat.join(address_id=world.bob)
        conversation = await client.chat.send_message(
            address_id=world.bob, text="Hello", metadata={"k": 1}, details={}
        )
        assert conversation.last_message is not None
        assert conversation.last_message.metadata == {"k": 1}
        for n in range(24):
            await client.chat.send_message(address_id=world.bob, text=f"n{n}")
        default = await client.chat.get_messages(address_id=world.bob)  # page_size 10
        assert [m.text for m in default.data] == [f"n{n}" for n in range(23, 13, -1)]
        page = await client.chat.get_messages(address_id=world.bob, page_size=10)
        assert [m.text for m in page.data] == [f"n{n}" for n in range(23, 13, -1)]
        assert page.has_next
        assert not page.has_prev
        assert await page.prev_page() is None  # the newest page has no newer one
        older = await page.next_page()
        assert older is not None
        assert older.has_prev
        newer = await older.prev_page()
        assert newer is not None
        assert [m.id for m in newer.data] == [m.id for m in page.data]
        everything = [m.text async for m in client.chat.iter_messages(address_id=world.bob)]
        assert everything == [f"n{n}" for n in range(23, -1, -1)] + ["Hello"]
        last = older
        while last.has_next:
            following = await last.next_page()
            assert following is not None
            last = following
        assert await last.next_page() is None


async def test_history_keeps_only_chat_and_refills(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as client:
        joined = await client.chat.join(address_id=world.bob)
        store = world.server.state.store
        info = await client.get_subscriber_info()
        expected = []
        for n in range(30):
            if n % 3 == 0:
                text = f"chat{n}"
                await client.chat.send_message(address_id=world.bob, text=text)
                expected.append(text)
            else:
                record = MessageRecord(
                    id=str(uuid.uuid4()),
                    group_id=joined.group_id,
                    from_address_id=world.alice,
                    subscriber_id=info.id,
                    user_name="Alice",
                    ts=time.time(),
                    type="message",
                    subtype="log",
                    kind="call",
                    text=None,
                    metadata={},
                    details={},
                )
                await store.insert_message(record, None)
        page = await client.chat.get_messages(address_id=world.bob, page_size=4)
        assert [m.text for m in page.data] == expected[::-1][:4]
        walked = [
            m.text async for m in client.chat.iter_messages(address_id=world.bob, page_size=3)
        ]
        assert walked == expected[::-1]
        everything = await client.conversation.get_conversation_messages(
            address_id=world.bob, page_size=30
        )
        assert {m.subtype for m in everything.data} == {"chat", "log"}
        assert all(isinstance(m, ConversationMessage) for m in everything.data)
        all_messages = await client.conversation.get_messages(page_size=1000)
        assert len(all_messages.data) == 30


async def test_conversation_namespace(world: World) -> None:
    async with (
        AsyncClient(token=world.alice_token) as alice,
        AsyncClient(token=world.bob_token) as bob,
    ):
        every: list[ConversationMessage] = []
        await bob.conversation.subscribe(on_message=every.append)
        sent = await alice.conversation.send_message(address_id=world.bob, text="via conv")
        conversations = await alice.conversation.get_conversations(page_size=5)
        assert [c.group_id for c in conversations.data] == [sent.group_id]
        async with bob.conversation.stream() as messages:
            await alice.chat.send_message(address_id=world.bob, text="streamed")
            async for message in messages:
                assert message.text == "streamed"
                break
        await eventually(lambda: [m.text for m in every] == ["via conv", "streamed"])


async def test_chat_stream(world: World) -> None:
    async with (
        AsyncClient(token=world.alice_token) as alice,
        AsyncClient(token=world.bob_token) as bob,
        bob.chat.stream(address_id=world.alice) as messages,
    ):
        await alice.chat.send_message(address_id=world.bob, text="s1")
        await alice.chat.send_message(address_id=world.bob, text="s2")
        got = []
        async for message in messages:
            got.append(message)
            if len(got) == 2:
                break
    assert [m.text for m in got] == ["s1", "s2"]
    assert all(m.conversation_id == world.alice for m in got)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.chat.get_messages(address_id=""),
        lambda c: c.chat.get_messages(address_id="   "),
        lambda c: c.chat.get_messages(address_id="x", page_size=0),
        lambda c: c.chat.get_messages(address_id="x", page_size=1001),
        lambda c: c.chat.get_messages(address_id="x", page_size=True),
        lambda c: c.chat.send_message(address_id="x", text="t", metadata=[1]),
        lambda c: c.chat.send_message(address_id="x", text="t", details={1: 2}),
        lambda c: c.chat.send_message(address_id="x", text=""),
        lambda c: c.chat.join(address_id=None),
        lambda c: c.chat.subscribe(address_id="x", on_message="not callable"),
        lambda c: c.conversation.get_conversations(page_size=-1),
        lambda c: c.chat.send_message(address_id="x", text="t", metadata="k=1"),
        lambda c: c.chat.send_message(address_id="", text="t"),
        lambda c: c.chat.subscribe(address_id="", on_message=print),
        lambda c: c.chat.stream(address_id=""),
        lambda c: c.chat.iter_messages(address_id=""),
        lambda c: c.chat.iter_messages(address_id="x", page_size=0),
        lambda c: c.conversation.get_conversation_messages(address_id="", page_size=5),
        lambda c: c.conversation.get_messages(page_size=1001),
    ],
)
async def test_wrong_arguments_raise_before_any_network_call(call: Any) -> None:
    # Nothing listens on port 9: a network call would raise ConnectionError instead.
    async with AsyncClient(token=make_token("ws://127.0.0.1:9")) as client:
        with pytest.raises(fabric_chat.InvalidArgumentError) as caught:
            await call(client)
    assert isinstance(caught.value, ValueError)


async def test_api_errors_from_the_real_server(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as client:
        with pytest.raises(fabric_chat.NotFoundError) as missing:
            await client.chat.join(address_id=str(uuid.uuid4()))
        assert missing.value.status == 404
        assert missing.value.code
        assert missing.value.message
        assert missing.value.message in str(missing.value)
        with pytest.raises(fabric_chat.UnprocessableEntityError):
            await client.chat.join(address_id=world.alice)
    forged = world.alice_token[:-4] + "AAAA"
    async with AsyncClient(token=forged) as client:
        with pytest.raises(fabric_chat.AuthenticationError) as caught:
            await client.chat.get_messages(address_id=world.bob)
        assert caught.value.status == 401
        with pytest.raises(fabric_chat.AuthenticationError):
            await client.chat.subscribe(address_id=world.bob, on_message=print)
    assert forged not in str(caught.value)
    assert forged not in repr(client)
    with pytest.raises(fabric_chat.ClientClosedError):
        await client.chat.get_messages(address_id=world.bob)


async def test_state_api_through_the_client(world: World) -> None:
    states: list[str] = []
    async with AsyncClient(token=world.alice_token) as client:
        client.on_state_change(lambda s: states.append(s.value))
        await client.chat.subscribe(address_id=world.bob, on_message=print)
        assert client.state is ConnectionState.CONNECTED
    assert states == ["connecting", "connected", "closed"]
