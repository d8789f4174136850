"""The hub delivers from positions: a slow socket never blocks others, memory holds no events."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from pathlib import Path
from typing import Any

import fabric_chat_server
from fabric_chat_server.events import message_event, publish_message
from fabric_chat_server.hub import (
    REORDER_LIMIT,
    REORDER_WINDOW,
    Channel,
    Hub,
    LiveSession,
    event_id_of,
)
from fabric_chat_server.sqlite_store import SqliteStore
from fabric_chat_server.store import ConversationRecord, MessageRecord, SessionRecord

_NEVER = float("inf")  # a token that never expires


class _StuckSocket:
    """A WebSocket whose peer never reads: every send waits forever."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[bytes] = []
        self.close_code: int | None = None
        self.release = asyncio.Event()

    async def send_frame(self, frame: bytes, opcode: object) -> None:
        self.sent.append(frame)
        await self.release.wait()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True
        self.close_code = code


class _FastSocket(_StuckSocket):
    async def send_frame(self, frame: bytes, opcode: object) -> None:
        self.sent.append(frame)


async def _chat(store: SqliteStore) -> tuple[str, str]:
    """Return ``(subscriber id, group id)`` of a subscriber in a 1:1 with another."""
    await store.put_project("p", "hash")
    alice, alice_address = await store.ensure_subscriber("p", "alice", None)
    bob, bob_address = await store.ensure_subscriber("p", "bob", None)
    draft = ConversationRecord(
        group_id=str(uuid.uuid4()),
        project_id="p",
        kind="direct",
        address_a=alice_address.id,
        address_b=bob_address.id,
        name="",
        created_at=time.time(),
    )
    conversation = await store.open_conversation(
        draft, "pair", [(alice.id, alice_address.id), (bob.id, bob_address.id)]
    )
    return alice.id, conversation.group_id


async def _send(store: SqliteStore, subscriber_id: str, group_id: str, text: str) -> MessageRecord:
    draft = MessageRecord(
        id=str(uuid.uuid4()),
        group_id=group_id,
        from_address_id="a",
        subscriber_id=subscriber_id,
        user_name=None,
        ts=0.0,
        type="message",
        subtype="chat",
        kind=None,
        text=text,
        metadata={},
        details={},
    )
    stored, created = await store.insert_message(draft, None)
    assert created
    return stored


async def _live(store: SqliteStore, hub: Hub, subscriber_id: str, socket: Any) -> LiveSession:
    now = time.time()
    record = SessionRecord(
        protocol=f"p-{uuid.uuid4()}",
        subscriber_id=subscriber_id,
        project_id="p",
        event_acks=True,
        authorization_state="s",
        created_at=now,
        seen_at=now,
    )
    await store.create_session(record, keep=10)
    positions = await store.session_positions(record.protocol, subscriber_id)
    session = LiveSession(record, Channel(socket, queue_size=3), positions, _NEVER)
    hub.attach(session)
    return session


async def test_a_stalled_socket_is_dropped_and_others_get_every_event(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "chat.db")
    await store.open()
    try:
        alice, group = await _chat(store)
        hub = Hub(store)
        stuck, fast = _StuckSocket(), _FastSocket()
        slow_session = await _live(store, hub, alice, stuck)
        fast_session = await _live(store, hub, alice, fast)

        async def frames(record: MessageRecord, subscriber_id: str) -> tuple[str, bytes] | None:
            return await message_event(store, record, subscriber_id, "test-protocol")

        async with asyncio.TaskGroup() as tasks:
            work = [tasks.create_task(s.channel.run_writer()) for s in (slow_session, fast_session)]
            pumps = [
                tasks.create_task(s.pump(store, frames, batch=4, stall=0.3))
                for s in (slow_session, fast_session)
            ]
            for i in range(10):  # more than the queue holds: the rest comes from the store
                await publish_message(store, hub, await _send(store, alice, group, f"m{i}"))
            for _ in range(1000):  # bounded: 10 s at most
                if len(fast.sent) >= 10 and slow_session.channel.overflowed:
                    break
                await asyncio.sleep(0.01)
            stuck.release.set()
            for session in (slow_session, fast_session):
                session.channel.finish()
            for pump in pumps:
                pump.cancel()
            async with asyncio.timeout(5):
                await asyncio.gather(*work)
        assert stuck.close_code == 1013
        assert [f'"text":"m{i}"'.encode() in frame for i, frame in enumerate(fast.sent)] == [
            True
        ] * 10
        # Acks move the session's position; a saved position is what a resume starts from.
        assert fast_session.ack(event_id_of(group, 7))
        assert not fast_session.ack(event_id_of(group, 11))  # never sent
        await hub.detach(fast_session)
        assert await store.backlog(fast_session.protocol, alice) == 3
        assert await store.backlog(slow_session.protocol, alice) == 10
    finally:
        await store.close()


def test_every_public_hub_method_is_called_by_the_server() -> None:
    """The hub carries no dead API: each public method has a caller outside ``hub.py``."""
    package = Path(fabric_chat_server.__file__).parent
    sources = "\n".join(
        path.read_text(encoding="utf-8") for path in package.rglob("*.py") if path.name != "hub.py"
    )
    methods = [
        name
        for name, member in inspect.getmembers(Hub, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert "attach" in methods
    unused = [name for name in methods if f".{name}(" not in sources]
    assert unused == []


def _session(positions: dict[str, int]) -> tuple[LiveSession, Channel]:
    now = time.time()
    record = SessionRecord(
        protocol="p-reorder",
        subscriber_id="s",
        project_id="p",
        event_acks=True,
        authorization_state="x",
        created_at=now,
        seen_at=now,
    )
    channel = Channel(_FastSocket(), queue_size=16)  # type: ignore[arg-type]
    session = LiveSession(record, channel, positions, _NEVER)
    session.catching_up = False
    session.wake.clear()
    return session, channel


async def test_an_event_ahead_of_a_gap_waits_for_the_one_before_it() -> None:
    session, channel = _session({"g": 4, "h": 9})
    session.deliver("g", 6, b"g6")  # 5 is still on its way (another sender, another instance)
    session.deliver("g", 7, b"g7")
    session.deliver("h", 10, b"h10")  # other conversations go on meanwhile
    assert session.sent == {"g": 4, "h": 10}
    session.deliver("g", 5, b"g5")
    assert session.sent == {"g": 7, "h": 10}
    assert not session.catching_up  # nothing was read back from the store
    assert not session.wake.is_set()
    queued = [channel._queue.get_nowait() for _ in range(channel._queue.qsize())]
    assert queued == [b"h10", b"g5", b"g6", b"g7"]
    await asyncio.sleep(REORDER_WINDOW * 2)
    assert not session.catching_up  # the window closed with nothing waiting


async def test_a_gap_that_does_not_close_is_read_back_from_the_store() -> None:
    session, _ = _session({"g": 4})
    session.deliver("g", 6, b"g6")  # 5's notification was lost
    assert not session.catching_up
    await asyncio.sleep(REORDER_WINDOW * 3)
    assert session.catching_up  # the pump reads 5 and 6 from the store
    assert session.wake.is_set()
    assert session.sent == {"g": 4}
    for seq in range(10, 10 + REORDER_LIMIT + 1):  # more than a socket may hold: at once
        session.catching_up = False
        session.deliver("g", seq, b"x")
    assert session.catching_up
