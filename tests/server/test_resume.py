"""Resume from positions: any gap within the limit is replayed in order, after a restart too."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import aiohttp
import msgspec
import pytest
from fabric_chat import AsyncClient, ConversationChatMessage
from fabric_chat._protocol import CONVERSATION_MESSAGE, RESUME_REFUSED, SIGNALWIRE_EVENT
from fabric_chat_runtime import ReconnectPolicy
from fabric_chat_server.store import MessageRecord
from fabric_chat_server.testing import LocalServer

from .conftest import Api, Rpc

MISSED = 5_000


class _Gate:
    """A reconnect sleep that holds every reconnect until the test opens it."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.waiting.set()
        await self.open.wait()


async def _miss(server: LocalServer, group_id: str, count: int) -> list[str]:
    """Store ``count`` messages from Alice (concurrently, as many senders would); return ids."""
    store = server.state.store
    alice, address = await store.ensure_subscriber(server.project_id, "alice", None)

    async def one(n: int) -> MessageRecord:
        draft = MessageRecord(
            id=str(uuid.uuid4()),
            group_id=group_id,
            from_address_id=address.id,
            subscriber_id=alice.id,
            user_name="alice",
            ts=0.0,
            type="message",
            subtype="chat",
            kind=None,
            text=f"missed {n}",
            metadata={},
            details={},
        )
        stored, _ = await store.insert_message(draft, None)
        return stored

    stored = await asyncio.gather(*(one(n) for n in range(count)))
    stored.sort(key=lambda record: record.seq)
    return [record.id for record in stored]


async def _group(server: LocalServer, api: Api, alice: str) -> str:
    status, joined = await api.post(
        "/api/fabric/conversations/join",
        alice,
        {"conversation_id": await server.address_of("bob")},
    )
    assert status == 200
    return str(joined["group_id"])


async def _replayed(rpc: Rpc, count: int) -> list[str]:
    """Read ``count`` message events (acking each), answering nothing else."""
    ids: list[str] = []
    async with asyncio.timeout(120):
        while len(ids) < count:
            message = await rpc.ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            frame = msgspec.json.decode(message.data)
            if frame.get("method") != SIGNALWIRE_EVENT:
                continue
            if frame["params"]["event_type"] == CONVERSATION_MESSAGE:
                ids.append(frame["params"]["params"]["id"])
                await rpc.ack(frame["id"])
    return ids


@pytest.mark.parametrize("restart", [False, True], ids=["live", "after-restart"])
async def test_a_raw_socket_resumes_after_missing_5000_events(
    server: LocalServer, api: Api, rpc_factory: Any, restart: bool
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    group = await _group(server, api, alice)
    first = await rpc_factory()
    assert "result" in await first.connect(bob)
    protocol = first.protocol
    await first.close()
    missed = await _miss(server, group, MISSED)
    if restart:
        await server.restart()
    again = await rpc_factory()
    answer = await again.connect(bob, protocol=protocol)
    assert answer["result"]["protocol"] == protocol
    assert await _replayed(again, MISSED) == missed  # every one, in order
    # The acks moved the session: a later resume replays nothing old, only what is new.
    await again.close()
    await server.state.hub.save(touch_all=True)
    latest = await api.send(alice, await server.address_of("bob"), "latest")
    third = await rpc_factory()
    assert (await third.connect(bob, protocol=protocol))["result"]["protocol"] == protocol
    assert await _replayed(third, 1) == [latest["id"]]


async def test_a_gap_beyond_the_replay_limit_is_refused(
    session: aiohttp.ClientSession, rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with LocalServer(max_replay_events=100, **store_options) as server:
        api = Api(server, session)
        alice, bob = await server.token("alice"), await server.token("bob")
        group = await _group(server, api, alice)
        first = await rpc_for(server)
        assert "result" in await first.connect(bob)
        await first.close()
        await _miss(server, group, 101)
        again = await rpc_for(server)
        answer = await again.connect(bob, protocol=first.protocol)
        assert answer["error"]["code"] == RESUME_REFUSED
        assert "result" in await again.connect(bob)  # a fresh connect works at once


@pytest.mark.parametrize(
    ("missed", "limit"), [(MISSED, 100_000), (150, 100)], ids=["resumed", "refused"]
)
async def test_the_sdk_gets_every_missed_message_in_order(
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    missed: int,
    limit: int,
    store_options: dict[str, Any],
) -> None:
    """Within the limit the resume replays; beyond it the SDK backfills from history."""
    caplog.set_level(logging.INFO, logger="fabric_chat")
    async with LocalServer(max_replay_events=limit, **store_options) as server:
        api = Api(server, session)
        alice, bob = await server.token("alice"), await server.token("bob")
        group = await _group(server, api, alice)
        gate = _Gate()
        got: list[ConversationChatMessage] = []
        done = asyncio.Event()

        def on_message(message: ConversationChatMessage) -> None:
            got.append(message)
            if len(got) == missed + 1:
                done.set()

        reconnect = ReconnectPolicy(base=0.01, sleep=gate)
        async with AsyncClient(token=bob, reconnect=reconnect) as client:
            await client.chat.subscribe(
                address_id=await server.address_of("alice"), on_message=on_message
            )
            await server.drop_sockets()
            async with asyncio.timeout(10):
                await gate.waiting.wait()
            ids = await _miss(server, group, missed)
            gate.open.set()
            last = await api.send(alice, await server.address_of("bob"), "after")
            async with asyncio.timeout(120):
                await done.wait()
            await asyncio.sleep(0.2)  # a late duplicate would land now
        assert [m.id for m in got] == [*ids, last["id"]]
        logs = [record.getMessage() for record in caplog.records]
        backfilled = any(line.startswith("backfilled") for line in logs)
        if limit >= missed:
            assert "socket connected (resumed=True)" in logs
            assert not backfilled
        else:
            assert "resume refused; connecting fresh" in logs
            assert backfilled


async def _ack_arrived(server: LocalServer, protocol: str, group_id: str) -> None:
    """Wait (bounded) until the server holds the session's ack of ``group_id``'s first event
    (not yet saved, or in a save under way: the periodic save may have taken it)."""
    hub = server.state.hub
    async with asyncio.timeout(5):
        while True:
            live = hub.live(protocol)
            if live is not None and live.unsaved.get(group_id, 0) >= 1:
                return
            if protocol in hub._saving:
                return
            await asyncio.sleep(0.005)


async def test_a_resume_waits_for_the_closing_sockets_acks_to_be_saved(
    server: LocalServer, api: Any, rpc_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acks of a socket that just closed are saved before the resume reads its positions.

    The store is made slow to save (a fault in test code), so that the resume would read the
    positions from before the close if it did not wait: the acked event would come again.
    """
    alice, bob = await server.token("alice"), await server.token("bob")
    b_addr = await server.address_of("bob")
    store = server.state.store
    saving = asyncio.Event()
    original = store.save_positions

    async def slow_save(positions: Any, seen_at: float) -> None:
        saving.set()
        await asyncio.sleep(0.3)
        await original(positions, seen_at)

    monkeypatch.setattr(store, "save_positions", slow_save)  # every save, the periodic one too
    first = await rpc_factory()
    await first.connect(bob)
    acked = await api.send(alice, b_addr, "acked")
    assert (await first.event(ack=True))["params"]["params"]["id"] == acked["id"]
    await _ack_arrived(server, first.protocol, acked["group_id"])
    protocol = first.protocol
    await first.close()
    async with asyncio.timeout(5):
        await saving.wait()  # the close's (or the periodic) save is under way, not yet done
    second = await rpc_factory()
    assert (await second.connect(bob, protocol=protocol))["result"]["protocol"] == protocol
    after = await api.send(alice, b_addr, "after")
    event = await second.event()
    assert event["params"]["params"]["id"] == after["id"]  # not "acked" a second time


async def test_acks_whose_save_failed_are_saved_the_next_time(
    server: LocalServer, api: Any, rpc_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that fails (the store unreachable for a moment) loses no ack of a live session."""
    alice, bob = await server.token("alice"), await server.token("bob")
    b_addr = await server.address_of("bob")
    store, hub = server.state.store, server.state.hub
    original = store.save_positions

    async def failing(positions: Any, seen_at: float) -> None:
        raise ConnectionError("the store is down for a moment")

    monkeypatch.setattr(store, "save_positions", failing)  # the periodic save fails too
    first = await rpc_factory()
    await first.connect(bob)
    acked = await api.send(alice, b_addr, "acked")
    assert (await first.event(ack=True))["params"]["params"]["id"] == acked["id"]
    await _ack_arrived(server, first.protocol, acked["group_id"])
    with pytest.raises(ConnectionError):
        await hub.save(touch_all=False)
    monkeypatch.setattr(store, "save_positions", original)
    await hub.save(touch_all=False)  # the kept acks are written now
    record = await store.get_session(first.protocol)
    assert record is not None
    positions = await store.session_positions(first.protocol, record.subscriber_id)
    group = acked["group_id"]
    assert positions[group] == 1
