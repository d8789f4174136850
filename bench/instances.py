"""Figures of several instances on PostgreSQL: cost per delivery, cross-instance latency, ingest.

One throwaway PostgreSQL cluster (durable settings: fsync and synchronous_commit as installed,
printed with the figures) holds two databases, so that two deployments run side by side and
their rounds alternate: **one instance** (A, database ``one``) and **two instances** (B and C,
database ``two``, fan-out across them over ``LISTEN/NOTIFY``).

- ``instances``: deliveries per second of server CPU (user + system of every server process of
  the deployment, from ``/proc``), with one instance and with two. Same workload on both: rooms
  of raw subscribers (half of each room's members on each instance of the two-instance
  deployment), a sender posting to every room (alternately through each instance). Target: two
  instances deliver at least 0.8x as much per CPU-second as one. Below it, for reference: two
  instances with no room split across them (each room's members and sends on one instance, so
  no delivery crosses the bus): what two half-loaded processes cost without the bus's work.
- ``cross-instance latency``: one room, a receiver on B and one on C, a sender posting through
  B one message at a time: send to ``on_message`` at B (same instance) and at C (across
  instances, through PostgreSQL). Target: cross-instance p99 < 10 ms on loopback.
- ``ingest (PostgreSQL)``: sends per second with 16 concurrent senders on one instance, on
  PostgreSQL and on SQLite (report; the settings say what durability each has).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from fabric_chat.models import ConversationChatMessage

from ._rawws import RawSubscriber
from ._results import FigureResult
from ._server import BenchServer, RawCaller
from ._stats import Stat, alternate, percentile, ratio_stat

__all__ = ["cpu_seconds", "run", "run_ingest", "run_instances", "run_latency"]

TARGET_RATIO = 0.8
TARGET_P99_MS = 10.0
_TICK = os.sysconf("SC_CLK_TCK")
_WAIT = 30.0


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


class _Counter:
    """Counts deliveries and wakes a waiter at a target."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.reached = asyncio.Event()

    def received(self, message: ConversationChatMessage) -> None:
        self.count += 1
        if self.count >= self.target:
            self.reached.set()

    def expect(self, more: int) -> None:
        self.target = self.count + more
        self.reached.clear()


class Postgres:
    """The throwaway cluster and its settings, as printed with the figures."""

    def __init__(self) -> None:
        from fabric_chat_server.postgres_cluster import TemporaryCluster

        self.cluster = TemporaryCluster()  # durable: the installed defaults
        self.settings: dict[str, str] = {}

    def __enter__(self) -> Postgres:
        self.cluster.__enter__()
        for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes"):
            self.settings[name] = self.cluster.sql(f"SHOW {name}").strip()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.__exit__(*exc)

    def database(self, name: str) -> str:
        return str(self.cluster.create_database(name))


class Deployment:
    """Instances of the server on one database, and the CPU they use."""

    def __init__(self, workdir: Path, db: str, count: int) -> None:
        token, secret = "PT-bench-" + secrets.token_hex(8), "bench-" + secrets.token_hex(16)
        self.servers = [  # one project and one signing secret: any instance serves anyone
            BenchServer(
                _mkdir(workdir / f"{db.rsplit('/', 1)[1]}-{i}"),
                db_path=db,
                project_token=token,
                jwt_secret=secret,
            )
            for i in range(count)
        ]

    async def __aenter__(self) -> Deployment:
        for server in self.servers:
            await server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in self.servers:
            await server.stop()

    def cpu(self) -> float:
        return sum(cpu_seconds(server.pid) for server in self.servers)


async def _fanout_setup(
    deployment: Deployment,
    session: aiohttp.ClientSession,
    rooms: int,
    members: int,
    *,
    split_rooms: bool = True,
) -> tuple[list[str], RawCaller, _Counter, list[RawSubscriber]]:
    """Rooms of raw subscribers spread over the deployment's instances; a sender in each.

    With ``split_rooms`` each room's members alternate between the instances; without it every
    member of room ``r`` is on instance ``r % instances`` (where the sends to it go too).
    """
    servers = deployment.servers
    first = servers[0]
    counter = _Counter()
    sockets: list[RawSubscriber] = []
    room_ids = [await first.create_room(f"room{r}") for r in range(rooms)]
    names = [f"m{r}-{m}" for r in range(rooms) for m in range(members)]
    tokens = await first.tokens(names)
    for index, token in enumerate(tokens):
        server = servers[(index if split_rooms else index // members) % len(servers)]
        caller = RawCaller(server.base_url, token)
        await caller.setup(session)
        await caller.join(session, room_ids[index // members])
        subscriber = RawSubscriber(session, server.ws_url, token, counter.received)
        await subscriber.start()
        sockets.append(subscriber)
    sender = RawCaller(first.base_url, (await first.tokens(["sender"]))[0])
    await sender.setup(session)
    groups = [await sender.join(session, room) for room in room_ids]
    return groups, sender, counter, sockets


async def run_instances(*, quick: bool, pg: Postgres, workdir: Path) -> FigureResult:
    """Deliveries per server CPU-second, one instance vs two."""
    rooms, members = (2, 4) if quick else (4, 10)
    messages = 20 if quick else 1000  # about a CPU-second per batch: /proc counts in 10 ms ticks
    rounds = 2 if quick else 7
    concurrency = 8
    async with (
        Deployment(workdir, pg.database("one"), 1) as one,
        Deployment(workdir, pg.database("two"), 2) as two,
        Deployment(workdir, pg.database("twolocal"), 2) as two_local,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        setups = {id(d): await _fanout_setup(d, session, rooms, members) for d in (one, two)}
        setups[id(two_local)] = await _fanout_setup(
            two_local, session, rooms, members, split_rooms=False
        )

        def measure(deployment: Deployment) -> Callable[[], Awaitable[float]]:
            groups, sender, counter, _ = setups[id(deployment)]
            urls = [server.base_url for server in deployment.servers]

            async def batch() -> float:
                counter.expect(messages * members)
                gate = asyncio.Semaphore(concurrency)

                async def send(n: int) -> None:
                    async with gate:
                        caller = RawCaller(urls[n % len(urls)], sender.token, sender.me)
                        await caller.send(session, groups[n % len(groups)], f"m{n}")

                before = deployment.cpu()
                await asyncio.gather(*(send(n) for n in range(messages)))
                async with asyncio.timeout(_WAIT):
                    await counter.reached.wait()
                await asyncio.sleep(0.05)  # the last acks and saves are part of the cost
                used = deployment.cpu() - before
                return messages * members / max(used, 1 / _TICK)

            return batch

        load_before = _load()
        base, subject = await alternate(rounds, measure(one), measure(two), higher_is_better=True)
        base_again, local = await alternate(
            rounds, measure(one), measure(two_local), higher_is_better=True
        )
        for _, _, _, sockets in setups.values():
            for socket in sockets:
                await socket.aclose()
    ratio = ratio_stat(subject, base)
    return FigureResult(
        figure="instances",
        what=f"{messages} messages to {rooms} rooms x {members} members "
        "(deliveries per server CPU-second)",
        target=f"2 instances >= {TARGET_RATIO:g}x 1",
        value=Stat.of(subject, "deliveries/CPU-s"),
        baseline=Stat.of(base, "deliveries/CPU-s"),
        ratio=ratio,
        ratio_meaning="2 instances / 1 instance",
        met=ratio.median >= TARGET_RATIO,
        extra={
            "2 instances, no room split across them (no delivery crosses the bus)": Stat.of(
                local, "deliveries/CPU-s"
            ),
            "2 instances with no room split / 1 instance": ratio_stat(local, base_again),
        },
        notes={
            "postgresql": pg.settings,
            "load average before / after": f"{load_before} / {_load()}",
            "cpu counted": "user+system of the server processes (not PostgreSQL's)",
            "senders": f"{concurrency} concurrent, alternately through each instance",
        },
    )


class _Arrivals:
    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, text: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[text] = future
        return future

    def received(self, message: ConversationChatMessage) -> None:
        future = self.waiting.pop(message.text or "", None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


async def run_latency(*, quick: bool, pg: Postgres, workdir: Path) -> FigureResult:
    """Send to receive, on the sender's instance and on the other one."""
    per_run = 20 if quick else 300
    rounds = 2 if quick else 5
    p50: dict[str, list[float]] = {"same": [], "cross": []}
    p99: dict[str, list[float]] = {"same": [], "cross": []}
    async with (
        Deployment(workdir, pg.database("latency"), 2) as two,
        aiohttp.ClientSession() as session,
    ):
        b, c = two.servers
        room = await b.create_room("latency")
        tokens = await b.tokens(["sender", "near", "far"])
        sender = RawCaller(b.base_url, tokens[0])
        await sender.setup(session)
        group = await sender.join(session, room)
        near, far = _Arrivals(), _Arrivals()
        sockets = []
        for server, token, arrivals in ((b, tokens[1], near), (c, tokens[2], far)):
            caller = RawCaller(server.base_url, token)
            await caller.setup(session)
            await caller.join(session, room)
            socket = RawSubscriber(session, server.ws_url, token, arrivals.received)
            await socket.start()
            sockets.append(socket)
        load_before = _load()
        for run in range(rounds + 1):
            same: list[float] = []
            cross: list[float] = []
            for n in range(per_run):
                text = f"r{run}-{n}"
                here, there = near.expect(text), far.expect(text)
                started = time.perf_counter()
                await sender.send(session, group, text)
                async with asyncio.timeout(_WAIT):
                    same.append((await here - started) * 1e3)
                    cross.append((await there - started) * 1e3)
            if run == 0:
                continue  # warm-up
            for name, values in (("same", same), ("cross", cross)):
                p50[name].append(percentile(values, 50))
                p99[name].append(percentile(values, 99))
        for socket in sockets:
            await socket.aclose()
    cross_p99 = Stat.of(p99["cross"], "ms")
    return FigureResult(
        figure="cross-instance latency",
        what="send through B to a raw socket on C, one message at a time (p99)",
        target=f"p99 < {TARGET_P99_MS:g} ms",
        value=cross_p99,
        baseline=Stat.of(p99["same"], "ms"),
        ratio=ratio_stat(p99["cross"], p99["same"]),
        ratio_meaning="cross p99 / same-instance p99",
        met=cross_p99.median < TARGET_P99_MS,
        extra={
            "cross-instance p50": Stat.of(p50["cross"], "ms"),
            "same-instance p50": Stat.of(p50["same"], "ms"),
        },
        notes={
            "baseline": "p99 on the sender's own instance (B)",
            "postgresql": pg.settings,
            "load average before / after": f"{load_before} / {_load()}",
            "messages per run": per_run,
        },
    )


async def _ingest(server: BenchServer, session: aiohttp.ClientSession, tag: str) -> Any:
    callers = []
    for name in await server.tokens([f"{tag}-a", f"{tag}-b"]):
        caller = RawCaller(server.base_url, name)
        await caller.setup(session)
        callers.append(caller)
    group = await callers[0].join(session, callers[1].me)

    async def batch(count: int = 400, concurrency: int = 16) -> float:
        gate = asyncio.Semaphore(concurrency)

        async def send(n: int) -> None:
            async with gate:
                await callers[0].send(session, group, f"i{n}")

        started = time.perf_counter()
        await asyncio.gather(*(send(n) for n in range(count)))
        return count / (time.perf_counter() - started)

    return batch


async def run_ingest(*, quick: bool, pg: Postgres, workdir: Path) -> FigureResult:
    """Sends per second, 16 at a time, on PostgreSQL and on SQLite."""
    rounds = 2 if quick else 5
    async with (
        Deployment(workdir, pg.database("ingest"), 1) as on_pg,
        BenchServer(_mkdir(workdir / "sqlite")) as on_sqlite,
        aiohttp.ClientSession() as session,
    ):
        pg_batch = await _ingest(on_pg.servers[0], session, "pg")
        sqlite_batch = await _ingest(on_sqlite, session, "lite")
        load_before = _load()
        base, subject = await alternate(rounds, sqlite_batch, pg_batch, higher_is_better=True)
    return FigureResult(
        figure="ingest (PostgreSQL)",
        what="sends/s, 16 concurrent, one instance",
        target="report",
        value=Stat.of(subject, "msg/s"),
        baseline=Stat.of(base, "msg/s"),
        ratio=ratio_stat(subject, base),
        ratio_meaning="PostgreSQL / SQLite",
        notes={
            "postgresql": pg.settings,
            "sqlite": "WAL, the store's own settings",
            "load average before / after": f"{load_before} / {_load()}",
        },
    )


async def run(*, quick: bool) -> list[FigureResult]:
    """All three figures on one throwaway cluster."""
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-pg-") as tmp:
        workdir = Path(tmp)
        with Postgres() as pg:
            return [
                await run_instances(quick=quick, pg=pg, workdir=workdir),
                await run_latency(quick=quick, pg=pg, workdir=workdir),
                await run_ingest(quick=quick, pg=pg, workdir=workdir),
            ]
