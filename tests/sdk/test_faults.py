"""Nothing lost, nothing twice: a numbered series against the real server, under faults.

Alice sends ``n0 .. n{N-1}`` while, mid-series, the server is killed (``SIGKILL`` of a
``fabric-chat serve`` process) or stopped and restarted on the same database, is down while sends
are retried, drops every socket, or stops pinging. Three
subscribers follow the conversation: Bob's ``subscribe`` callback, Bob's ``stream`` and Alice's
own ``stream`` (her client faces the same faults). Each must receive every message exactly once,
in order: the received lists must equal the sent list, checked after a settling pause in which
any late duplicate would land, and after the streams have ended.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fabric_chat import AsyncClient, ConversationChatMessage
from fabric_chat_runtime import HeartbeatPolicy, ReconnectPolicy, RetryPolicy
from fabric_chat_runtime.state import ConnectionState
from fabric_chat_server.testing import LocalServer, ServerProcess

from .conftest import Inbox

N = 60
RETRY = RetryPolicy(max_attempts=40, base=0.02, cap=0.2)
#: The backoff resets only after a connection lasted ``cap`` seconds: keep that shorter than the
#: time between two faults of a series, so each fault meets a fresh backoff.
RECONNECT = ReconnectPolicy(base=0.02, cap=0.05)
#: The whole series, faults included, must be over within this many seconds.
SERIES_LIMIT = 30.0

Fault = Callable[[int], Awaitable[None]]


@dataclass
class Parties:
    """Alice (the sender) and Bob: their tokens and their own addresses."""

    alice_token: str
    bob_token: str
    alice_address: str
    bob_address: str

    @classmethod
    async def on(cls, server: LocalServer) -> Parties:
        return cls(
            await server.token("alice", display_name="Alice"),
            await server.token("bob", display_name="Bob"),
            await server.address_of("alice"),
            await server.address_of("bob"),
        )


@dataclass
class Outcome:
    """What each subscriber received, and the state changes both clients went through."""

    bob_called: list[str]
    bob_streamed: list[str]
    alice_streamed: list[str]
    bob_states: list[ConnectionState] = field(default_factory=list)
    alice_states: list[ConnectionState] = field(default_factory=list)

    def assert_exactly_once_in_order(self, count: int = N) -> None:
        expected = [f"n{n}" for n in range(count)]
        assert self.bob_called == expected
        assert self.bob_streamed == expected
        assert self.alice_streamed == expected


@pytest.fixture
async def server(store_options: dict[str, Any]) -> AsyncIterator[LocalServer]:
    """The server, on each store ([sqlite] and [postgres])."""
    async with LocalServer(ping_interval=0.1, **store_options) as local:
        yield local


async def run_series(
    parties: Parties | LocalServer,
    fault: Fault,
    *,
    count: int = N,
    heartbeat: HeartbeatPolicy | None = None,
) -> Outcome:
    """Send ``count`` numbered messages, calling ``fault(n)`` after each one."""
    if isinstance(parties, LocalServer):
        parties = await Parties.on(parties)
    alice_token, bob_token = parties.alice_token, parties.bob_token
    alice_address, bob_address = parties.alice_address, parties.bob_address
    called, bob_streamed, alice_streamed = Inbox(), Inbox(), Inbox()
    bob_states: list[ConnectionState] = []
    alice_states: list[ConnectionState] = []
    options: dict[str, Any] = {"heartbeat": heartbeat} if heartbeat is not None else {}
    async with asyncio.timeout(SERIES_LIMIT):
        async with (
            AsyncClient(token=alice_token, retry=RETRY, reconnect=RECONNECT, **options) as alice,
            AsyncClient(token=bob_token, retry=RETRY, reconnect=RECONNECT, **options) as bob,
        ):
            bob.on_state_change(bob_states.append)
            alice.on_state_change(alice_states.append)
            await alice.chat.join(address_id=bob_address)
            await bob.chat.subscribe(address_id=alice_address, on_message=called.append)

            async def consume(
                client: AsyncClient, peer: str, into: Inbox, ready: asyncio.Event
            ) -> None:
                async with client.chat.stream(address_id=peer) as messages:
                    ready.set()
                    async for message in messages:  # ends when the client closes
                        into.append(message)

            bob_ready, alice_ready = asyncio.Event(), asyncio.Event()
            async with asyncio.TaskGroup() as group:
                group.create_task(consume(bob, alice_address, bob_streamed, bob_ready))
                group.create_task(consume(alice, bob_address, alice_streamed, alice_ready))
                await bob_ready.wait()
                await alice_ready.wait()
                for n in range(count):
                    await alice.chat.send_message(address_id=bob_address, text=f"n{n}")
                    await fault(n)
                    await asyncio.sleep(0.005)
                for inbox in (called, bob_streamed, alice_streamed):
                    await inbox.wait(count, within=SERIES_LIMIT)
                await asyncio.sleep(0.3)  # any late duplicate (replay, backfill) lands now
                await bob.aclose()  # ends Bob's stream, and nothing is delivered after
                await alice.aclose()
    assert all(isinstance(m, ConversationChatMessage) for m in [*called, *bob_streamed])
    assert all(m.conversation_id == alice_address for m in [*called, *bob_streamed])
    assert all(m.conversation_id == bob_address for m in alice_streamed)
    return Outcome(
        [m.text for m in called],
        [m.text for m in bob_streamed],
        [m.text for m in alice_streamed],
        bob_states,
        alice_states,
    )


def backfills(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith("backfilled"))


def resumes(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == "socket connected (resumed=True)")


async def test_server_killed_and_restarted_mid_stream(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")

    async def restart(n: int) -> None:
        if n in (17, 38):
            await server.restart()  # same database and port; every socket is lost, not sessions

    outcome = await run_series(server, restart)
    outcome.assert_exactly_once_in_order()
    assert outcome.bob_states.count(ConnectionState.RECONNECTING) >= 2
    assert outcome.alice_states.count(ConnectionState.RECONNECTING) >= 2
    assert resumes(caplog) >= 4  # two clients, two restarts: sessions are kept in the store
    assert backfills(caplog) == 0  # an honoured resume replays; the SDK reads no history


async def test_server_down_while_messages_are_sent(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends hit a stopped server (and are retried) while subscribers reconnect and backfill."""
    caplog.set_level(logging.INFO, logger="fabric_chat")

    async def start_later(local: LocalServer) -> None:
        await asyncio.sleep(0.4)
        await local.start()

    async with asyncio.TaskGroup() as group:

        async def outage(n: int) -> None:
            if n == 29:
                await server.stop()
                group.create_task(start_later(server))

        outcome = await run_series(server, outage)
    outcome.assert_exactly_once_in_order()
    assert any("failed to connect; retry" in r.getMessage() for r in caplog.records)
    assert resumes(caplog) >= 2


async def test_dropped_sockets(server: LocalServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")

    async def drop(n: int) -> None:
        if n % 12 == 6:  # n6, n18, n30, n42, n54: resumes replay un-acked events
            await server.drop_sockets()

    outcome = await run_series(server, drop)
    outcome.assert_exactly_once_in_order()
    assert outcome.bob_states.count(ConnectionState.RECONNECTING) >= 5
    assert resumes(caplog) >= 10
    assert backfills(caplog) == 0


async def test_delayed_pings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    heartbeat = HeartbeatPolicy(ping_timeout=0.15, probe_timeout=0.1)

    async def pause(n: int) -> None:
        if n in (15, 30):
            await asyncio.sleep(0.4)  # silence longer than ping_timeout: the watchdog probes

    # The server pings every 10 s: within the series every silence is one without pings.
    async with LocalServer(ping_interval=10.0) as quiet:
        outcome = await run_series(quiet, pause, heartbeat=heartbeat)
    outcome.assert_exactly_once_in_order()
    assert any("probing" in record.getMessage() for record in caplog.records)


async def test_every_fault_in_one_series(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    heartbeat = HeartbeatPolicy(ping_timeout=0.15, probe_timeout=0.1)
    count = 80

    # The server pings every 10 s, so a pause in the series is a silence the watchdog probes.
    async with LocalServer(ping_interval=10.0) as server, asyncio.TaskGroup() as group:

        async def start_later(local: LocalServer) -> None:
            await asyncio.sleep(0.3)
            await local.start()

        async def faults(n: int) -> None:
            if n in (10, 70):
                await server.drop_sockets()
            elif n == 25:
                await server.restart()
            elif n == 40:
                await server.stop()
                group.create_task(start_later(server))
            elif n == 55:
                await asyncio.sleep(0.4)  # no ping in that time: the watchdog probes

        outcome = await run_series(server, faults, count=count, heartbeat=heartbeat)
    outcome.assert_exactly_once_in_order(count)
    assert outcome.bob_states.count(ConnectionState.RECONNECTING) >= 4
    assert any("probing" in record.getMessage() for record in caplog.records)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _mint(process: ServerProcess, project: tuple[str, str], reference: str) -> str:
    basic = "Basic " + base64.b64encode(":".join(project).encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            process.base_url + "/api/fabric/subscribers/tokens",
            json={"reference": reference, "display_name": reference.title()},
            headers={"Authorization": basic},
        ) as response,
    ):
        assert response.status == 200
        token: str = (await response.json())["token"]
    return token


async def test_server_process_killed_with_sigkill_mid_series(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, store_options: dict[str, Any]
) -> None:
    """``fabric-chat serve`` in a subprocess is SIGKILLed mid-series and started again on the
    same database (SQLite file or PostgreSQL) and port while Alice's sends are being retried."""
    caplog.set_level(logging.INFO, logger="fabric_chat")
    port = _free_port()
    project = ("sdk-faults", "PT-" + "k" * 32)
    database = store_options.get("database_url", str(tmp_path / "chat.db"))
    args = ["--db", database, "--port", str(port), "--ping-interval", "0.2"]
    args += ["--project-id", project[0], "--project-token", project[1]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_CHAT_")}
    processes = [ServerProcess(*args, env=env)]
    await processes[0].start()
    try:
        alice_token = await _mint(processes[0], project, "alice")
        bob_token = await _mint(processes[0], project, "bob")
        async with AsyncClient(token=alice_token) as alice, AsyncClient(token=bob_token) as bob:
            alice_address = (await alice.get_subscriber_info()).fabric_addresses[0].id
            bob_address = (await bob.get_subscriber_info()).fabric_addresses[0].id
        parties = Parties(alice_token, bob_token, alice_address, bob_address)

        async with asyncio.TaskGroup() as group:

            async def kill(n: int) -> None:
                if n == 30:
                    assert await processes[-1].stop(signal.SIGKILL) == -signal.SIGKILL
                    processes.append(ServerProcess(*args, env=env))
                    group.create_task(processes[-1].start())  # sends retry meanwhile

            outcome = await run_series(parties, kill)
    finally:
        for process in processes:
            await process.stop()
    assert len(processes) == 2
    outcome.assert_exactly_once_in_order()
    assert ConnectionState.RECONNECTING in outcome.bob_states
    assert any("failed to connect; retry" in r.getMessage() for r in caplog.records)
    assert resumes(caplog) >= 2
