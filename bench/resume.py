"""Figure ``resume``: replaying missed events on a resume against backfilling them from history.

Bob's session misses ``MISSED`` messages (10,000; 300 in quick mode). One side resumes that
session on a raw socket and reads every replayed event (without acking, so that each round
replays the same events); the other is what a client does when the resume is refused: the SDK
reads the same messages from history, ``get_messages(page_size=100)`` and ``next_page()``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from fabric_chat import AsyncClient
from fabric_chat._protocol import CONVERSATION_MESSAGE, SIGNALWIRE_CONNECT

from ._results import FigureResult
from ._server import BenchServer, open_pair
from ._stats import Stat, alternate, ratio_stat

__all__ = ["run"]


def _connect(token: str, protocol: str | None) -> str:
    params: dict[str, object] = {
        "version": {"major": 4, "minor": 0, "revision": 0},
        "event_acks": True,
        "authentication": {"jwt_token": token},
    }
    if protocol is not None:
        params["protocol"] = protocol
    frame = {"jsonrpc": "2.0", "id": "c", "method": SIGNALWIRE_CONNECT, "params": params}
    return msgspec.json.encode(frame).decode()


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the resume figure (seconds to get every missed message)."""
    missed = 300 if quick else 10_000
    rounds = 2 if quick else 5
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        async with BenchServer(Path(tmp)) as server, aiohttp.ClientSession() as session:
            pair = await open_pair(server, session)
            async with session.ws_connect(server.ws_url + "/") as ws:
                await ws.send_str(_connect(pair.bob.token, None))
                protocol = msgspec.json.decode((await ws.receive()).data)["result"]["protocol"]
            queue = iter(range(missed))

            async def sender() -> None:
                for index in queue:
                    await pair.alice.send(session, pair.group_id, f"missed {index}")

            async with asyncio.TaskGroup() as tasks:
                for _ in range(16):
                    tasks.create_task(sender())

            async def replay() -> float:
                started = time.perf_counter()
                got = 0
                async with session.ws_connect(server.ws_url + "/", max_msg_size=0) as ws:
                    await ws.send_str(_connect(pair.bob.token, protocol))
                    async for message in ws:
                        if f'"{CONVERSATION_MESSAGE}"' in message.data:
                            got += 1
                            if got == missed:
                                break
                return time.perf_counter() - started

            async with AsyncClient(token=pair.bob.token, base_url=server.base_url) as client:

                async def backfill() -> float:
                    started = time.perf_counter()
                    page = await client.chat.get_messages(address_id=pair.alice.me, page_size=100)
                    got = len(page.data)
                    while got < missed and page.has_next:
                        following = await page.next_page()
                        assert following is not None
                        page = following
                        got += len(page.data)
                    assert got >= missed
                    return time.perf_counter() - started

                backfills, replays = await alternate(rounds, backfill, replay)
    ratio = ratio_stat(replays, backfills)
    return [
        FigureResult(
            figure="resume",
            what=f"time to get {missed:,} missed messages: resume replay vs SDK backfill (s)",
            target="report",
            value=Stat.of(replays, "s"),
            baseline=Stat.of(backfills, "s"),
            ratio=ratio,
            ratio_meaning="replay time / backfill time",
            notes={
                "replay": "raw socket resuming the session, reading every event (no acks)",
                "backfill": "SDK get_messages(page_size=100) then next_page() to the same depth",
            },
        )
    ]
