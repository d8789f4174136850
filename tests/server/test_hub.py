"""The hub's fan-out: one slow socket never blocks the others; un-acked events are bounded."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import fabric_chat_server
from fabric_chat_server.hub import Channel, Hub

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


async def test_slow_socket_is_dropped_without_blocking_others() -> None:
    hub = Hub(resume_window=60.0, max_unacked=100)
    stuck, fast = _StuckSocket(), _FastSocket()
    slow_session = hub.create(
        jti="j1", subscriber_id="s", project_id="p", event_acks=True, expires_at=_NEVER
    )
    fast_session = hub.create(
        jti="j2", subscriber_id="s", project_id="p", event_acks=True, expires_at=_NEVER
    )
    slow_channel, fast_channel = Channel(stuck, queue_size=3), Channel(fast, queue_size=3)  # type: ignore[arg-type]
    hub.attach(slow_session, slow_channel)
    hub.attach(fast_session, fast_channel)
    async with asyncio.TaskGroup() as tasks:
        writers = [tasks.create_task(c.run_writer()) for c in (slow_channel, fast_channel)]
        for i in range(10):
            for session in hub.sessions_of("s"):
                session.deliver(f"e{i}", f"frame {i}".encode())
            await asyncio.sleep(0)
        assert slow_channel.overflowed
        assert fast.sent == [f"frame {i}".encode() for i in range(10)]
        stuck.release.set()
        fast_channel.finish()
        async with asyncio.timeout(5):
            await asyncio.gather(*writers)
    assert stuck.close_code == 1013
    # The slow session kept its un-acked events for a resume.
    assert list(slow_session.unacked) == [f"e{i}" for i in range(10)]


def test_unacked_overflow_breaks_resume_and_acks_free_events() -> None:
    hub = Hub(resume_window=60.0, max_unacked=3)
    session = hub.create(
        jti="j", subscriber_id="s", project_id="p", event_acks=True, expires_at=_NEVER
    )
    for i in range(3):
        session.deliver(f"e{i}", b"x")
    session.ack("e0")
    assert list(session.unacked) == ["e1", "e2"]
    assert hub.resumable(session.protocol, "s") is session
    for i in range(3, 6):
        session.deliver(f"e{i}", b"x")
    assert session.broken
    assert hub.resumable(session.protocol, "s") is None


def test_detached_sessions_expire_after_the_window() -> None:
    now = [100.0]
    hub = Hub(resume_window=10.0, max_unacked=10, clock=lambda: now[0])
    session = hub.create(
        jti="j", subscriber_id="s", project_id="p", event_acks=True, expires_at=_NEVER
    )
    channel: Any = Channel(_FastSocket(), queue_size=4)  # type: ignore[arg-type]
    hub.attach(session, channel)
    hub.detach(session, channel)
    now[0] += 9.0
    assert hub.resumable(session.protocol, "s") is session
    now[0] += 2.0
    assert hub.resumable(session.protocol, "s") is None
    assert list(hub.sessions_of("s")) == []


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
    assert "create" in methods
    unused = [name for name in methods if f".{name}(" not in sources]
    assert unused == []
