"""Figure ``memory``: client RSS per subscription, and server RSS per open socket.

Client: a fresh process (:mod:`bench._memory_probe`) holds one ``fabric_chat.AsyncClient``; its
RSS (``VmRSS``) is read with 1 subscription and with 1,000 (one per room, distinct conversations);
the figure is the difference per added subscription. Server: a fresh server process per run;
its RSS is read with one socket open and with 1,000 more raw sockets connected
(``signalwire.connect`` done, one session each); the figure is the difference per socket.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path

import aiohttp
import msgspec

from ._rawws import RawSubscriber
from ._results import FigureResult
from ._server import ROOT, BenchServer, python_command
from ._stats import Stat

__all__ = ["run"]

_CONNECT_AT_ONCE = 32


async def _client_run(server: BenchServer, token: str, addresses: list[str]) -> tuple[int, int]:
    settings = {
        "base_url": server.base_url,
        "ws_url": server.ws_url,
        "token": token,
        "addresses": addresses,
    }
    process = await asyncio.create_subprocess_exec(
        *python_command("bench._memory_probe"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    async with asyncio.timeout(120.0):
        out, err = await process.communicate(msgspec.json.encode(settings) + b"\n")
    if process.returncode != 0:
        raise RuntimeError(f"memory probe failed: {err.decode(errors='replace')[-2000:]}")
    result = msgspec.json.decode(out.splitlines()[-1])
    return int(result["rss_one_kb"]), int(result["rss_all_kb"])


async def _server_run(workdir: Path, sockets: int) -> tuple[int, int]:
    async with (
        BenchServer(workdir) as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
    ):
        tokens = await server.tokens([f"holder{index}" for index in range(10)])
        opened = [RawSubscriber(session, server.ws_url, tokens[0], lambda m: None)]
        try:
            await opened[0].start()
            await asyncio.sleep(0.3)
            before = server.rss_kb()
            gate = asyncio.Semaphore(_CONNECT_AT_ONCE)

            async def one(index: int) -> None:
                socket = RawSubscriber(
                    session, server.ws_url, tokens[index % len(tokens)], lambda m: None
                )
                opened.append(socket)
                async with gate:
                    await socket.start()

            async with asyncio.TaskGroup() as tasks:
                for index in range(sockets):
                    tasks.create_task(one(index))
            await asyncio.sleep(0.5)
            after = server.rss_kb()
        finally:
            await asyncio.gather(*(socket.aclose() for socket in opened), return_exceptions=True)
    return before, after


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the memory figure (KiB per subscription and per socket)."""
    subscriptions, sockets = (100, 50) if quick else (1000, 1000)
    rounds = 2 if quick else 5
    per_subscription: list[float] = []
    client_one: list[float] = []
    client_all: list[float] = []
    per_socket: list[float] = []
    server_base: list[float] = []
    server_all: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        workdir = Path(tmp)
        async with BenchServer(workdir) as server:
            token = await server.token("holder")
            rooms: list[str] = []
            for index in range(subscriptions):
                rooms.append(await server.create_room(f"room{index}"))
            await _client_run(server, token, rooms[:2])  # warm-up (and joins made once)
            for _ in range(rounds):
                one, everything = await _client_run(server, token, rooms)
                client_one.append(one / 1024)
                client_all.append(everything / 1024)
                per_subscription.append((everything - one) / (subscriptions - 1))
        for index in range(rounds + 1):
            run_dir = workdir / f"server{index}"
            run_dir.mkdir()
            before, after = await _server_run(run_dir, sockets)
            if index > 0:  # run 0 is the warm-up
                server_base.append(before / 1024)
                server_all.append(after / 1024)
                per_socket.append((after - before) / sockets)
    return [
        FigureResult(
            figure="memory (client)",
            what=f"client RSS per subscription, {subscriptions} vs 1 (KiB each)",
            target="report",
            value=Stat.of(per_subscription, "KiB"),
            baseline=Stat.of(client_one, "MiB"),
            extra={f"client RSS with {subscriptions} subscriptions": Stat.of(client_all, "MiB")},
            notes={
                "baseline": "the client's whole RSS with 1 subscription",
                "subscriptions": subscriptions,
                "conversations": "one room per subscription (distinct joins)",
            },
        ),
        FigureResult(
            figure="memory (server)",
            what=f"server RSS per open socket, {sockets} sockets (KiB each)",
            target="report",
            value=Stat.of(per_socket, "KiB"),
            baseline=Stat.of(server_base, "MiB"),
            extra={f"server RSS with {sockets} more sockets": Stat.of(server_all, "MiB")},
            notes={
                "baseline": "the server's whole RSS with 1 socket open",
                "sockets": sockets,
                "socket": "raw aiohttp socket after signalwire.connect (one session each)",
            },
        ),
    ]
