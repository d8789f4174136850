"""Nothing lost, nothing twice: a numbered series against the real server, under faults.

Alice sends ``n0 .. n{N-1}`` while the server is restarted on the same database, sockets are
dropped, or server pings stop; Bob's callback subscription and Bob's stream must each see
every message exactly once, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fabric_chat import Client, ConversationChatMessage
from fabric_chat_runtime import HeartbeatPolicy, ReconnectPolicy, RetryPolicy
from fabric_chat_runtime.state import ConnectionState
from fabric_chat_server.testing import LocalServer

from .conftest import Inbox

N = 30
RETRY = RetryPolicy(max_attempts=30, base=0.02, cap=0.2)
RECONNECT = ReconnectPolicy(base=0.02, cap=0.2)

Fault = Callable[[LocalServer, int], Awaitable[None]]


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    async with LocalServer(ping_interval=0.1) as local:
        yield local


async def run_series(
    server: LocalServer, fault: Fault, *, heartbeat: HeartbeatPolicy | None = None
) -> tuple[list[str], list[str], list[ConnectionState]]:
    alice_token = await server.token("alice", display_name="Alice")
    bob_token = await server.token("bob", display_name="Bob")
    alice_address = await server.address_of("alice")
    bob_address = await server.address_of("bob")
    called = Inbox()
    streamed = Inbox()
    states: list[ConnectionState] = []
    options = {"heartbeat": heartbeat} if heartbeat is not None else {}
    async with (
        Client(token=alice_token, retry=RETRY) as alice,
        Client(token=bob_token, retry=RETRY, reconnect=RECONNECT, **options) as bob,
    ):
        bob.on_state_change(states.append)
        await alice.chat.join(address_id=bob_address)
        await bob.chat.subscribe(address_id=alice_address, on_message=called.append)

        async def consume() -> None:
            async with bob.chat.stream(address_id=alice_address) as messages:
                ready.set()
                async for message in messages:
                    streamed.append(message)
                    if len(streamed) == N:
                        return

        ready = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(consume())
            await ready.wait()
            for n in range(N):
                await alice.chat.send_message(address_id=bob_address, text=f"n{n}")
                await fault(server, n)
                await asyncio.sleep(0.01)
            await called.wait(N, within=30)
        await asyncio.sleep(0.1)  # any late duplicate would land now
    assert all(isinstance(m, ConversationChatMessage) for m in called)
    return [m.text for m in called], [m.text for m in streamed], states


EXPECTED = [f"n{n}" for n in range(N)]


async def test_server_restart_mid_stream(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat_runtime")

    async def restart(local: LocalServer, n: int) -> None:
        if n in (7, 19):
            await local.restart()

    called, streamed, states = await run_series(server, restart)
    assert called == EXPECTED
    assert streamed == EXPECTED
    assert states.count(ConnectionState.RECONNECTING) >= 2
    backfills = [r.args for r in caplog.records if r.getMessage().startswith("backfilled")]
    assert len(backfills) >= 4  # two subscriptions, two restarts


async def test_server_down_while_messages_are_sent(server: LocalServer) -> None:
    """Sends hit a stopped server (retried) while the subscriber reconnects and backfills."""

    async def start_later(local: LocalServer) -> None:
        await asyncio.sleep(0.3)
        await local.start()

    async with asyncio.TaskGroup() as group:

        async def outage(local: LocalServer, n: int) -> None:
            if n == 10:
                await local.stop()
                group.create_task(start_later(local))

        called, streamed, _ = await run_series(server, outage)
    assert called == EXPECTED
    assert streamed == EXPECTED


async def test_dropped_sockets(server: LocalServer) -> None:
    async def drop(local: LocalServer, n: int) -> None:
        if n % 6 == 3:
            await local.drop_sockets()

    called, streamed, states = await run_series(server, drop)
    assert called == EXPECTED
    assert streamed == EXPECTED
    assert states.count(ConnectionState.RECONNECTING) >= 3


async def test_delayed_pings(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat_runtime")
    heartbeat = HeartbeatPolicy(ping_timeout=0.15, probe_timeout=0.1)

    async def pause(local: LocalServer, n: int) -> None:
        if n == 5:
            local.pause_pings()
        if n in (5, 12):
            await asyncio.sleep(0.4)  # silence longer than ping_timeout: the watchdog probes
        if n == 20:
            local.resume_pings()

    called, streamed, _ = await run_series(server, pause, heartbeat=heartbeat)
    assert called == EXPECTED
    assert streamed == EXPECTED
    assert any("probing" in record.getMessage() for record in caplog.records)
