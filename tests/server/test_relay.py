"""The relay: sends go out on the bus as positions; positions heard are read back and delivered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from fabric_chat_server import hub as hub_module
from fabric_chat_server.bus import MEMBERS_CHANGED, BusPosition, OnPositions, OnResync
from fabric_chat_server.store import MessageRecord, Positions
from fabric_chat_server.testing import LocalServer

from .conftest import Api, Rpc


class RecordingBus:
    """A bus to imaginary other instances: records what is published, hears on cue."""

    def __init__(self) -> None:
        self.published: list[BusPosition] = []
        self._on_positions: OnPositions | None = None
        self._on_resync: OnResync | None = None

    async def start(self, on_positions: OnPositions, on_resync: OnResync) -> None:
        self._on_positions, self._on_resync = on_positions, on_resync

    def publish(self, group_id: str, seq: int) -> None:
        self.published.append((group_id, seq))

    def problems(self) -> list[str]:
        return []

    async def close(self) -> None:
        pass

    def hear(self, positions: Sequence[BusPosition]) -> None:
        assert self._on_positions is not None
        self._on_positions(positions)

    def resync(self) -> None:
        assert self._on_resync is not None
        self._on_resync()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
async def server(bus: RecordingBus, store_options: dict[str, Any]) -> AsyncIterator[LocalServer]:
    async with LocalServer(bus=bus, **store_options) as running:
        yield running
        assert running.state.stats.unexpected == 0


async def _written_elsewhere(server: LocalServer, group_id: str, text: str) -> MessageRecord:
    """Store a message as another instance would: straight into the shared store, no fan-out."""
    store = server.state.store
    alice, address = await store.ensure_subscriber(server.project_id, "alice", None)
    record = MessageRecord(
        id=str(uuid.uuid4()),
        group_id=group_id,
        from_address_id=address.id,
        subscriber_id=alice.id,
        user_name="alice",
        ts=0.0,
        type="message",
        subtype="chat",
        kind=None,
        text=text,
        metadata={},
        details={},
    )
    stored, created = await store.insert_message(record, None)
    assert created
    return stored


async def _chat(server: LocalServer, api: Api) -> tuple[str, str, str]:
    """Return alice's token, bob's token and their conversation's group id."""
    alice, bob = await server.token("alice"), await server.token("bob")
    sent = await api.send(alice, await server.address_of("bob"), "hello")
    return alice, bob, str(sent["group_id"])


async def test_sends_publish_positions_and_a_join_publishes_members_changed_once(
    server: LocalServer, api: Api, bus: RecordingBus
) -> None:
    alice, _, group = await _chat(server, api)
    assert bus.published == [(group, MEMBERS_CHANGED), (group, 1)]
    await api.send(alice, await server.address_of("bob"), "again")
    status, _ = await api.post("/api/fabric/conversations/join", alice, {"conversation_id": group})
    assert status == 200
    assert bus.published == [(group, MEMBERS_CHANGED), (group, 1), (group, 2)]


async def test_a_position_heard_from_another_instance_is_read_back_and_delivered(
    server: LocalServer, api: Api, bus: RecordingBus, rpc_for: Any
) -> None:
    _, bob, group = await _chat(server, api)
    rpc: Rpc = await rpc_for(server)
    assert "result" in await rpc.connect(bob)
    stored = await _written_elsewhere(server, group, "from elsewhere")
    bus.hear([(group, MEMBERS_CHANGED), (group, stored.seq), ("unknown-group", 7)])
    event = await rpc.event()
    assert event["id"] == f"{group}.{stored.seq}"
    assert event["params"]["params"]["text"] == "from elsewhere"


async def test_a_resync_delivers_what_no_position_announced(
    server: LocalServer, api: Api, bus: RecordingBus, rpc_for: Any
) -> None:
    _, bob, group = await _chat(server, api)
    rpc: Rpc = await rpc_for(server)
    assert "result" in await rpc.connect(bob)
    first = await _written_elsewhere(server, group, "lost notification 1")
    second = await _written_elsewhere(server, group, "lost notification 2")
    bus.resync()
    received = [(await rpc.event())["params"]["params"]["text"] for _ in range(2)]
    assert received == ["lost notification 1", "lost notification 2"]
    assert (first.seq, second.seq) == (2, 3)
    status, body = await api.get("/readyz", bob)
    assert (status, body) == (200, {"status": "ready"})


async def test_messages_at_reads_many_positions_at_once_in_conversation_and_seq_order(
    server: LocalServer, api: Api
) -> None:
    _, _, first = await _chat(server, api)
    carol = await server.token("carol")
    second = str((await api.send(carol, await server.address_of("dave"), "hi"))["group_id"])
    for n in range(3):
        await _written_elsewhere(server, first, f"first {n}")
        await _written_elsewhere(server, second, f"second {n}")
    store = server.state.store
    asked = [(second, 3), (first, 4), (first, 2), ("unknown-group", 1), (first, 2), (second, 9)]
    read = await store.messages_at(asked)
    assert [(record.group_id, record.seq) for record in read] == sorted(
        [(first, 2), (first, 4), (second, 3)]
    )
    for record in read:
        assert record == await store.message_at(record.group_id, record.seq)
    assert await store.messages_at([]) == []


async def test_positions_heard_together_are_read_in_one_query_and_delivered_in_order(
    server: LocalServer, api: Api, bus: RecordingBus, rpc_for: Any, monkeypatch: Any
) -> None:
    _, bob, group = await _chat(server, api)
    rpc: Rpc = await rpc_for(server)
    assert "result" in await rpc.connect(bob)
    stored = [await _written_elsewhere(server, group, f"elsewhere {n}") for n in range(5)]
    store = server.state.store
    reads: list[list[tuple[str, int]]] = []
    read_all = store.messages_at

    async def counted(positions: Sequence[tuple[str, int]]) -> list[MessageRecord]:
        reads.append(list(positions))
        return await read_all(positions)

    monkeypatch.setattr(store, "messages_at", counted)
    bus.hear([(group, record.seq) for record in reversed(stored)])
    received = [(await rpc.event())["params"]["params"]["text"] for _ in stored]
    assert received == [f"elsewhere {n}" for n in range(5)]
    assert len(reads) == 1
    assert sorted(reads[0]) == [(group, r.seq) for r in stored]


async def _until(condition: Any, what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_resync_that_finds_a_message_in_flight_leaves_it_to_the_live_delivery(
    server: LocalServer, api: Api, bus: RecordingBus, rpc_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(hub_module, "RECHECK_DELAY", 0.2)
    _, bob, group = await _chat(server, api)
    rpc: Rpc = await rpc_for(server)
    assert "result" in await rpc.connect(bob)
    live = server.state.hub.live(rpc.protocol)
    assert live is not None
    await _until(lambda: not live.catching_up, "the first catch-up")
    store = server.state.store
    reads: list[Positions] = []
    read_after = store.messages_after

    async def counted(subscriber_id: str, positions: Positions, limit: int) -> list[MessageRecord]:
        reads.append(dict(positions))
        return await read_after(subscriber_id, positions, limit)

    monkeypatch.setattr(store, "messages_after", counted)
    stored = await _written_elsewhere(server, group, "in flight")
    bus.resync()  # the re-sync reads it before its position is heard
    await _until(lambda: len(reads) == 1, "the re-sync's read")
    bus.hear([(group, stored.seq)])
    event = await rpc.event()
    assert event["params"]["params"]["text"] == "in flight"
    await asyncio.sleep(0.4)  # past the recheck: nothing missing, so no catch-up read
    assert len(reads) == 1
    assert not live.catching_up
