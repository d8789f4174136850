"""The promises of the public API, end to end through ``fabric_chat.AsyncClient`` and the server.

Callbacks (sync and async) and a ``cancel()`` that is final even while a callback is running;
one socket for every feed; per-call timeouts; a ``send_message`` whose answer is lost and is
retried with the same idempotency key (stored once, answered with the same message); and no
token anywhere in the logs of a whole session with reconnects, at DEBUG.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import fabric_chat
import pytest
from aiohttp import web
from fabric_chat import AsyncClient, ConversationChatMessage
from fabric_chat_runtime import ConnectionState, ReconnectPolicy, RetryPolicy

from .conftest import PEER, Canned, FakeServer, Inbox, World, eventually

SEND_PATH = "/api/fabric/messages"


class Recorder:
    """An injected sleep that records its delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class LosingProxy:
    """An HTTP proxy in front of the real server that can lose answers to sends.

    The request reaches the server (which stores the message); the proxy then cuts the
    connection instead of passing the answer on, as a network fault would.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lose_sends = 0
        self.sends: list[tuple[str | None, int]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            status = answer.status
            kept = {k: v for k, v in answer.headers.items() if k.lower() in {"retry-after"}}
        if request.method == "POST" and request.path == SEND_PATH:
            self.sends.append((request.headers.get("Idempotency-Key"), status))
            if self.lose_sends > 0:
                self.lose_sends -= 1
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError
        return web.Response(
            body=payload, status=status, headers=kept, content_type="application/json"
        )

    async def __aenter__(self) -> LosingProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        assert self._session is not None
        await self._runner.cleanup()
        await self._session.close()


async def test_send_message_retried_after_a_lost_answer_is_stored_once(world: World) -> None:
    sleeps = Recorder()
    retry = RetryPolicy(sleep=sleeps, random=lambda: 0.5)
    async with (
        asyncio.timeout(20),
        LosingProxy(world.server.base_url) as proxy,
        AsyncClient(
            token=world.alice_token, base_url=proxy.url, ws_url=world.server.ws_url, retry=retry
        ) as alice,
        AsyncClient(token=world.bob_token) as bob,
    ):
        await alice.chat.join(address_id=world.bob)
        proxy.lose_sends = 1  # the server stores the first attempt; its answer never arrives
        conversation = await alice.chat.send_message(address_id=world.bob, text="exactly once")
        other = await alice.chat.send_message(address_id=world.bob, text="a second message")
        history = await bob.chat.get_messages(address_id=world.alice)
    (first_key, first_status), (retry_key, retry_status), (other_key, _) = proxy.sends
    assert first_key is not None
    assert len(first_key) == 36
    assert first_key == retry_key != other_key
    assert first_status == retry_status == 201
    assert sleeps.delays == [0.1875]  # one retry, after the connection error
    assert [m.text for m in history.data] == ["a second message", "exactly once"]
    assert conversation.last_message is not None
    assert other.last_message is not None
    assert conversation.last_message.id == history.data[1].id  # the replay is the stored one
    assert other.last_message.id == history.data[0].id


async def test_on_message_sync_and_async(world: World) -> None:
    sync_got: list[ConversationChatMessage] = []
    async_got = Inbox()

    async def handle(message: ConversationChatMessage) -> None:
        await asyncio.sleep(0)
        async_got.append(message)

    async with (
        AsyncClient(token=world.bob_token) as bob,
        AsyncClient(token=world.alice_token) as alice,
    ):
        await bob.chat.subscribe(address_id=world.alice, on_message=sync_got.append)
        await bob.chat.subscribe(address_id=world.alice, on_message=handle)
        for text in ("a", "b", "c"):
            await alice.chat.send_message(address_id=world.bob, text=text)
        await async_got.wait(3)
        await eventually(lambda: len(sync_got) == 3)
    assert [m.text for m in sync_got] == [m.text for m in async_got] == ["a", "b", "c"]
    assert all(isinstance(m, ConversationChatMessage) for m in async_got)


async def test_a_plain_callback_that_returns_an_awaitable_is_awaited_in_order(
    world: World,
) -> None:
    """A plain function (not ``async def``) returning a coroutine: awaited, in order, once."""
    finished: list[str] = []
    gate = asyncio.Event()

    async def finish(message: ConversationChatMessage) -> None:
        if message.text == "p0":
            await gate.wait()  # the first one is slow: the others must wait behind it
        finished.append(str(message.text))

    def plain(message: ConversationChatMessage) -> Any:
        return finish(message)

    witness = Inbox()
    async with (
        AsyncClient(token=world.bob_token) as bob,
        AsyncClient(token=world.alice_token) as alice,
    ):
        await bob.chat.subscribe(address_id=world.alice, on_message=plain)
        await bob.chat.subscribe(address_id=world.alice, on_message=witness.append)
        for n in range(3):
            await alice.chat.send_message(address_id=world.bob, text=f"p{n}")
        await witness.wait(3)
        await asyncio.sleep(0.05)
        assert finished == []  # p1 and p2 are queued behind p0's awaitable
        gate.set()
        await eventually(lambda: len(finished) == 3)
    assert finished == ["p0", "p1", "p2"]


async def test_cancel_is_final_even_while_a_callback_runs(world: World) -> None:
    """``cancel()`` while a callback is mid-way and more messages wait: nothing fires after."""
    fired: list[str] = []
    entered = asyncio.Event()
    gate = asyncio.Event()

    async def slow(message: ConversationChatMessage) -> None:
        fired.append(f"start {message.text}")
        entered.set()
        await gate.wait()
        fired.append(f"end {message.text}")  # never: cancel() came while it waited

    witness = Inbox()
    async with (
        AsyncClient(token=world.bob_token) as bob,
        AsyncClient(token=world.alice_token) as alice,
    ):
        subscription = await bob.chat.subscribe(address_id=world.alice, on_message=slow)
        await bob.chat.subscribe(address_id=world.alice, on_message=witness.append)
        for n in range(3):
            await alice.chat.send_message(address_id=world.bob, text=f"c{n}")
        await witness.wait(3)  # c1 and c2 reached Bob's socket and wait behind the slow c0
        await entered.wait()
        subscription.cancel()
        assert fired == ["start c0"]
        assert not subscription.active
        subscription.cancel()  # idempotent
        gate.set()
        await alice.chat.send_message(address_id=world.bob, text="after")
        await witness.wait(4)
        await asyncio.sleep(0.05)
    assert fired == ["start c0"]
    assert [m.text for m in witness] == ["c0", "c1", "c2", "after"]


async def test_one_socket_serves_every_feed(server: FakeServer) -> None:
    async with AsyncClient(token=server.token) as client:
        assert client.state is ConnectionState.IDLE
        assert server.connects == []  # nothing opens before the first feed
        calls = Inbox()
        await client.chat.subscribe(address_id=PEER, on_message=calls.append)
        await client.conversation.subscribe(on_message=print)
        async with client.chat.stream(address_id=PEER) as messages:
            await server.publish(server.add("shared"))
            async for message in messages:
                assert message.text == "shared"
                break
        await calls.wait(1)
        assert len(server.connects) == 1
        assert len(server.sockets) == 1


async def test_timeouts_default_per_client_and_per_call(server: FakeServer) -> None:
    assert inspect.signature(AsyncClient).parameters["timeout"].default == 30.0
    default = AsyncClient(token=server.token)
    assert default._engine._http._timeout == 30.0
    await default.aclose()
    join = "/api/fabric/conversations/join"
    async with AsyncClient(token=server.token, timeout=0.1, retry=RetryPolicy(max_attempts=1)) as c:
        # The client's timeout bounds a slow answer...
        server.fail(join, Canned(200, {}, delay=0.5))
        with pytest.raises(fabric_chat.APITimeoutError, match=r"0\.1s"):
            await c.chat.join(address_id=PEER)
        # ...a per-call one shorter than the client's wins...
        server.fail(join, Canned(200, {}, delay=0.5))
        with pytest.raises(fabric_chat.APITimeoutError, match=r"0\.02s"):
            await c.chat.join(address_id=PEER, timeout=0.02)
        # ...and so does a longer one: this answer takes 0.3 s, over the client's 0.1 s.
        slow = {"group_id": "group-bob", "fabric_address_ids": [PEER, "addr-alice"]}
        server.fail(join, Canned(200, slow, delay=0.3))
        joined = await c.chat.join(address_id=PEER, timeout=5.0)
    assert joined.group_id == "group-bob"


async def test_no_token_in_any_log_line_repr_or_message(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A whole session at DEBUG: feeds, sends, drops, a restart, errors; the token never shows."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    reconnect = ReconnectPolicy(base=0.01, cap=0.05)
    async with (
        asyncio.timeout(20),
        AsyncClient(token=world.bob_token, reconnect=reconnect) as bob,
        AsyncClient(token=world.alice_token, reconnect=reconnect) as alice,
    ):
        got = Inbox()
        subscription = await bob.chat.subscribe(address_id=world.alice, on_message=got.append)
        stream = alice.chat.stream(address_id=world.bob)
        async with stream as messages:
            await alice.chat.send_message(address_id=world.bob, text="one")
            await world.server.drop_sockets()
            await alice.chat.send_message(address_id=world.bob, text="two")
            await world.server.restart()
            await alice.chat.send_message(address_id=world.bob, text="three")
            await got.wait(3)
            echoed = [m.text async for m in _take(messages, 3)]
        page = await bob.chat.get_messages(address_id=world.alice, page_size=2)
        with pytest.raises(fabric_chat.NotFoundError) as missing:
            await bob.chat.join(address_id="no-such-address")
        seen += [repr(bob), str(bob), repr(subscription), repr(stream), repr(page)]
        seen += [str(missing.value), repr(missing.value), repr(bob.chat), repr(got[0])]
    async with AsyncClient(token=world.bob_token + "x") as forged:
        with pytest.raises(fabric_chat.AuthenticationError) as refused:
            await forged.chat.subscribe(address_id=world.alice, on_message=print)
        with pytest.raises(fabric_chat.AuthenticationError) as unauthorised:
            await forged.get_subscriber_info()
        seen += [repr(forged), str(refused.value), repr(refused.value)]
        seen += [str(unauthorised.value), repr(unauthorised.value)]
    assert [m.text for m in got] == ["one", "two", "three"]
    assert echoed == ["one", "two", "three"]
    assert any("reconnecting in" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    lines = [record.getMessage() for record in caplog.records] + [caplog.text]
    for token in (world.alice_token, world.bob_token):
        signature = token.split(".")[2]
        for text in [*lines, *seen]:
            assert token not in text
            assert signature not in text


async def _take(
    messages: fabric_chat.MessageStream[ConversationChatMessage], count: int
) -> AsyncIterator[ConversationChatMessage]:
    n = 0
    async for message in messages:
        yield message
        n += 1
        if n == count:
            return
