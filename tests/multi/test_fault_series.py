"""Several instances on one PostgreSQL: nothing lost, nothing twice, each conversation in order.

Three ``fabric-chat serve`` processes share one database. Three rooms; six members, two at home
on each instance (a client's front door tries its home instance first). Senders post numbered
messages ``room:n`` through the instances in turn while a fault strikes mid-series:

- an instance is killed (``SIGKILL``): its members' sockets drop and resume on the next
  instance (sessions are in the store), sends through it go elsewhere;
- the listeners' connections are terminated (``pg_terminate_backend``): notifications are lost
  until each instance notices (a ping), reconnects and re-syncs from the store;
- PostgreSQL restarts: every connection of every instance drops at once;
- every send goes to two instances at once with the same ``Idempotency-Key``.

Every member must receive every message of every room exactly once, in ``n`` order.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
from fabric_chat import AsyncClient, ConversationChatMessage
from fabric_chat_runtime import ReconnectPolicy, RetryPolicy
from fabric_chat_server.bus_postgres import LISTEN_NAME
from fabric_chat_server.postgres_cluster import TemporaryCluster

from .conftest import Cluster

ROOMS = ("alpha", "beta", "gamma")
MEMBERS = ("ann", "ben", "cat", "dan", "eve", "fay")  # ann, ben at home on 0; cat, dan on 1...
N = 30  # messages per room
RETRY = RetryPolicy(max_attempts=60, base=0.05, cap=0.3)
RECONNECT = ReconnectPolicy(base=0.05, cap=0.3)
SERIES_LIMIT = 60.0

Fault = Callable[[int], Awaitable[None]]


class Received:
    """What one member received, per room address."""

    def __init__(self) -> None:
        self.by_room: dict[str, list[str]] = {}
        self.grown = asyncio.Event()

    def add(self, message: ConversationChatMessage) -> None:
        self.by_room.setdefault(message.conversation_id, []).append(message.text)
        self.grown.set()

    def count(self) -> int:
        return sum(len(texts) for texts in self.by_room.values())


async def _post(
    session: aiohttp.ClientSession, url: str, token: str, room: str, text: str, key: str
) -> dict[str, Any]:
    """Send once through ``url``, retrying connection failures and 5xx (as the SDK does)."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    body = {"conversation_id": room, "text": text}
    for _ in range(100):
        try:
            async with session.post(url + "/api/fabric/messages", json=body, headers=headers) as r:
                if r.status == 201:
                    return msgspec.json.decode(await r.read())  # type: ignore[no-any-return]
                assert r.status >= 500, await r.text()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text} was never accepted")


async def run_series(
    cluster: Cluster, fault: Fault, *, twice: bool = False, count: int = N
) -> dict[str, Received]:
    """Start three instances, spread the members, send ``count`` per room; ``fault(n)`` each n."""
    for _ in range(3):
        await cluster.start_instance()
    rooms = {name: await cluster.room(name) for name in ROOMS}
    tokens = {name: await cluster.token(name) for name in MEMBERS}
    doors = [await cluster.door(i, (i + 1) % 3, (i + 2) % 3) for i in range(3)]
    sender = await cluster.token("sender")
    received = {name: Received() for name in MEMBERS}
    async with asyncio.timeout(SERIES_LIMIT), aiohttp.ClientSession() as session:
        clients = []
        for index, name in enumerate(MEMBERS):
            door = doors[index // 2]
            client = AsyncClient(
                token=tokens[name],
                base_url=door.base_url,
                ws_url=door.ws_url,
                retry=RETRY,
                reconnect=RECONNECT,
            )
            clients.append(client)
            await client.__aenter__()
            for room in rooms.values():
                await client.chat.join(address_id=room)
                await client.chat.subscribe(address_id=room, on_message=received[name].add)
        try:
            # the sender joins every room (through its own door), then sends
            for room in rooms.values():
                await _post(session, doors[0].base_url, sender, room, "hello", f"join-{room}")
            for name in MEMBERS:
                await _wait(received[name], len(ROOMS))
            for inbox in received.values():
                inbox.by_room.clear()
            for n in range(count):
                sends = []
                for r, room in enumerate(rooms.values()):
                    key = f"{room}:{n}"
                    first = doors[(n + r) % 3].base_url
                    sends.append(_post(session, first, sender, room, f"{ROOMS[r]}:{n}", key))
                    if twice:
                        second = doors[(n + r + 1) % 3].base_url
                        sends.append(_post(session, second, sender, room, f"{ROOMS[r]}:{n}", key))
                answers = await asyncio.gather(*sends)
                if twice:
                    for a, b in zip(answers[::2], answers[1::2], strict=True):
                        assert a["id"] == b["id"]  # one message, whichever instance answered
                await fault(n)
            for name in MEMBERS:
                await _wait(received[name], len(ROOMS) * count)
            await asyncio.sleep(0.5)  # a late duplicate (a replay, a re-sync) would land now
        finally:
            for client in clients:
                await client.aclose()
    return {name: received[name] for name in MEMBERS} | {"_rooms": rooms}  # type: ignore[dict-item]


async def _wait(inbox: Received, count: int) -> None:
    while inbox.count() < count:
        inbox.grown.clear()
        await inbox.grown.wait()


def assert_exactly_once_in_order(outcome: dict[str, Any], count: int = N) -> None:
    rooms: dict[str, str] = outcome["_rooms"]
    for name in MEMBERS:
        got = outcome[name].by_room
        for r, room in enumerate(ROOMS):
            assert got.get(rooms[room]) == [f"{ROOMS[r]}:{n}" for n in range(count)], (name, room)


def listeners(postgres_cluster: TemporaryCluster, dsn: str) -> set[int]:
    """Return the backend pids of the instances' LISTEN connections to ``dsn``'s database."""
    database = dsn.rsplit("/", 1)[1]
    rows = postgres_cluster.sql(
        "SELECT pid FROM pg_stat_activity "
        f"WHERE application_name = '{LISTEN_NAME}' AND datname = '{database}'"
    )
    return {int(pid) for pid in rows.split()}


def resumes(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == "socket connected (resumed=True)")


async def test_an_instance_killed_mid_series(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")

    async def kill(n: int) -> None:
        if n == N // 2:
            process = cluster.instances[1].process.process
            assert process is not None
            process.send_signal(signal.SIGKILL)  # cat and dan resume on instance 2
            await process.wait()

    assert_exactly_once_in_order(await run_series(cluster, kill))
    process = cluster.instances[1].process.process
    assert process is not None
    assert process.returncode == -signal.SIGKILL
    assert resumes(caplog) >= 2  # cat's and dan's sessions, on another instance


async def test_the_listeners_terminated_mid_series(
    cluster: Cluster, postgres_cluster: TemporaryCluster
) -> None:
    """The last rounds go out while the listeners are killed again and again: notifications
    are lost, and only the re-sync after each reconnect delivers what they announced."""
    terminated: set[int] = set()

    def terminate() -> None:
        pids = listeners(postgres_cluster, cluster.dsn)
        terminated.update(pids)
        if pids:
            listed = ",".join(map(str, pids))
            postgres_cluster.sql(
                f"SELECT pg_terminate_backend(pid) FROM unnest('{{{listed}}}'::int[]) pid"
            )

    async def keep_terminating() -> None:
        for _ in range(20):
            await asyncio.to_thread(terminate)
            await asyncio.sleep(0.02)

    hammer: list[asyncio.Task[None]] = []

    async def fault(n: int) -> None:
        if n == N // 3:
            await asyncio.to_thread(terminate)
        if n == N - 5:
            hammer.append(asyncio.create_task(keep_terminating()))

    assert_exactly_once_in_order(await run_series(cluster, fault))
    await hammer[0]
    for _ in range(100):  # the last kill may have struck a moment ago
        after = listeners(postgres_cluster, cluster.dsn)
        if len(after) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(terminated) >= 6
    assert not after & terminated  # each instance listens on a new connection


async def test_postgresql_restarted_mid_series(
    cluster: Cluster, postgres_cluster: TemporaryCluster
) -> None:
    async def restart(n: int) -> None:
        if n == N // 2:
            await asyncio.to_thread(postgres_cluster.restart, "fast")

    assert_exactly_once_in_order(await run_series(cluster, restart))
    assert len(listeners(postgres_cluster, cluster.dsn)) == 3  # every instance listens again


async def test_the_same_send_retried_on_two_instances(cluster: Cluster) -> None:
    async def nothing(n: int) -> None:
        pass

    assert_exactly_once_in_order(await run_series(cluster, nothing, twice=True))
