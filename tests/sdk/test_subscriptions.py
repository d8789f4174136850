"""Subscriptions: callbacks, cancel, slow consumers, dedupe, backfill after reconnects, streams."""

from __future__ import annotations

import asyncio
from typing import Any

from fabric_chat_runtime.retry import ReconnectPolicy
from fabric_chat_runtime.state import ConnectionState

from .conftest import PEER, ChatMessage, Client, FakeServer, Message, eventually

FAST = ReconnectPolicy(base=0.01, cap=0.05)


class Gate:
    """A reconnect sleep that holds every reconnect until the test opens it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = 0

    async def __call__(self, delay: float) -> None:
        self.waiting += 1
        await self.open.wait()


async def test_async_callback_and_cancel_is_final(server: FakeServer, client: Client) -> None:
    got: list[str] = []

    async def on_message(message: ChatMessage) -> None:
        await asyncio.sleep(0)
        got.append(message.text or "")

    sub = await client.engine.subscribe_conversation(
        item_type=ChatMessage, on_message=on_message, address_id=PEER, chat_only=True
    )
    await server.publish(server.add("one"))
    await server.publish(server.add("a log", subtype="log"))
    await server.publish(server.add("other", group="group-carol"))
    await server.publish(server.add("two"))
    await eventually(lambda: got == ["one", "two"])
    assert sub.active
    assert "active" in repr(sub)
    sub.cancel()
    sub.cancel()
    assert not sub.active
    assert "cancelled" in repr(sub)
    await server.publish(server.add("three"))
    await asyncio.sleep(0.05)
    assert got == ["one", "two"]


async def test_cancel_from_inside_the_callback(server: FakeServer, client: Client) -> None:
    got: list[str] = []
    holder: dict[str, Any] = {}

    def on_message(message: ChatMessage) -> None:
        got.append(message.text or "")
        holder["sub"].cancel()

    holder["sub"] = await client.engine.subscribe_conversation(
        item_type=ChatMessage, on_message=on_message, address_id=PEER, chat_only=True
    )
    for text in ("a", "b", "c"):
        await server.publish(server.add(text))
    await asyncio.sleep(0.05)
    assert got == ["a"]


async def test_slow_callback_does_not_block_others(server: FakeServer, client: Client) -> None:
    release = asyncio.Event()
    slow: list[str] = []
    fast: list[str] = []

    async def stuck(message: ChatMessage) -> None:
        await release.wait()
        slow.append(message.text or "")

    engine = client.engine
    await engine.subscribe_conversation(
        item_type=ChatMessage, on_message=stuck, address_id=PEER, chat_only=True
    )
    await engine.subscribe_conversation(
        item_type=ChatMessage,
        on_message=lambda m: fast.append(m.text),
        address_id=PEER,
        chat_only=True,
    )
    for n in range(5):
        await server.publish(server.add(f"n{n}"))
    await eventually(lambda: len(fast) == 5)
    assert slow == []
    release.set()
    await eventually(lambda: slow == fast)


async def test_failing_callback_is_logged_and_feed_goes_on(
    server: FakeServer, client: Client
) -> None:
    got: list[str] = []

    def flaky(message: ChatMessage) -> None:
        got.append(message.text or "")
        if message.text == "boom":
            raise RuntimeError("callback bug")

    await client.engine.subscribe_conversation(
        item_type=ChatMessage, on_message=flaky, address_id=PEER, chat_only=True
    )
    await server.publish(server.add("boom"))
    await server.publish(server.add("fine"))
    await eventually(lambda: got == ["boom", "fine"])


async def test_duplicates_are_dropped(server: FakeServer, client: Client) -> None:
    got: list[str] = []
    await client.engine.subscribe_conversation(
        item_type=ChatMessage,
        on_message=lambda m: got.append(m.text),
        address_id=PEER,
        chat_only=True,
    )
    message = server.add("once")
    for _ in range(3):
        await server.publish(message)
    await server.publish(server.add("next"))
    await eventually(lambda: got[-1:] == ["next"])
    assert got == ["once", "next"]


async def test_backfill_after_a_dropped_socket(server: FakeServer) -> None:
    server.refuse_resume = True  # the SDK backfills only when the server refuses the resume
    gate = Gate()
    got: list[str] = []
    everything: list[str] = []
    reconnect = ReconnectPolicy(base=0.01, sleep=gate)
    async with Client(token=server.token, reconnect=reconnect) as client:
        server.add("before-subscribe")
        await client.engine.subscribe_conversation(
            item_type=ChatMessage,
            on_message=lambda m: got.append(m.text),
            address_id=PEER,
            chat_only=True,
        )
        await client.engine.subscribe_conversation(
            item_type=Message,
            on_message=lambda m: everything.append(m.text),
            address_id=None,
            chat_only=False,
        )
        await server.publish(server.add("live-1"))
        await eventually(lambda: got == ["live-1"] and everything == ["live-1"])
        await server.drop_sockets()
        await eventually(lambda: gate.waiting > 0)
        assert client.state is ConnectionState.RECONNECTING
        for n in range(150):  # more than one backfill page
            server.add(f"missed-{n}", subtype="log" if n % 50 == 7 else "chat")
        gate.open.set()
        await eventually(lambda: client.state is ConnectionState.CONNECTED)
        await server.publish(server.add("live-2"))
        await server.publish(server.messages[-2])  # a replay of an already backfilled message
        await eventually(lambda: got[-1:] == ["live-2"] and everything[-1:] == ["live-2"])
    missed = [f"missed-{n}" for n in range(150)]
    assert got == ["live-1", *[m for n, m in enumerate(missed) if n % 50 != 7], "live-2"]
    assert everything == ["live-1", *missed, "live-2"]


async def test_backfill_retries_when_history_fails(server: FakeServer) -> None:
    from .conftest import Canned

    server.refuse_resume = True
    gate = Gate()
    got: list[str] = []
    async with Client(token=server.token, reconnect=ReconnectPolicy(base=0.01, sleep=gate)) as c:
        await c.engine.subscribe_conversation(
            item_type=ChatMessage,
            on_message=lambda m: got.append(m.text),
            address_id=PEER,
            chat_only=True,
        )
        await server.drop_sockets()
        await eventually(lambda: gate.waiting > 0)
        server.add("missed")
        server.fail("/api/fabric/conversations/addr-bob", Canned(404), Canned(404))
        gate.open.set()
        await eventually(lambda: got == ["missed"])


async def test_stream_yields_until_the_block_or_client_ends(server: FakeServer) -> None:
    async with Client(token=server.token) as client:
        stream = client.engine.conversation_stream(
            item_type=ChatMessage, address_id=PEER, chat_only=True
        )
        async with stream as messages:
            await server.publish(server.add("s1"))
            await server.publish(server.add("s2"))
            got = []
            async for message in messages:
                got.append(message.text)
                if len(got) == 2:
                    break
        assert got == ["s1", "s2"]
        other = client.engine.conversation_stream(
            item_type=ChatMessage, address_id=PEER, chat_only=True
        )
        seen = []
        async with other as messages:

            async def close_soon() -> None:
                await server.publish(server.add("last"))
                await asyncio.sleep(0.05)
                await client.aclose()

            async with asyncio.TaskGroup() as group:
                group.create_task(close_soon())
                async for message in messages:
                    seen.append(message.text)
        assert seen == ["last"]
        async for _ in other:  # stays ended
            raise AssertionError("a closed stream yielded")


async def test_an_honoured_resume_is_trusted_and_reads_no_history(server: FakeServer) -> None:
    """The fake honours the resume (and replays nothing): the SDK must not backfill."""
    gate = Gate()
    got: list[str] = []
    async with Client(token=server.token, reconnect=ReconnectPolicy(base=0.01, sleep=gate)) as c:
        await c.engine.subscribe_conversation(
            item_type=ChatMessage,
            on_message=lambda m: got.append(m.text),
            address_id=PEER,
            chat_only=True,
        )
        await server.drop_sockets()
        await eventually(lambda: gate.waiting > 0)
        server.add("only in history")
        reads = len(server.requests)
        gate.open.set()
        await eventually(lambda: c.state is ConnectionState.CONNECTED)
        await server.publish(server.add("live"))
        await eventually(lambda: got == ["live"])
        assert len(server.requests) == reads  # no history read after the resume
