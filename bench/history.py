"""Figure ``history fetch``: ``client.chat.get_messages(page_size=100)`` against a raw GET.

The raw baseline hits the same route (``/api/fabric/conversations/{group_id}/messages``) with the
same bearer header, the group id obtained once, one ``aiohttp.ClientSession`` and a prebuilt
msgspec decoder into the same item type (``ConversationChatMessage``). The SDK side uses
``fabric_chat.AsyncClient`` with the join already cached. The server runs in its own process.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
from fabric_chat import AsyncClient
from fabric_chat.models import ConversationChatMessage, PageLinks

from ._results import FigureResult
from ._server import BenchServer, open_pair
from ._stats import CpuClock, Stat, alternate, ratio_stat

__all__ = ["run"]

PAGE_SIZE = 100
TARGET = 1.15


class _ChatPage(msgspec.Struct):
    data: list[ConversationChatMessage]
    links: PageLinks


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the history fetch figure (milliseconds per page; lower is better)."""
    calls, batches = (5, 2) if quick else (25, 6)
    rounds = 2 if quick else 9
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        async with (
            BenchServer(Path(tmp)) as server,
            aiohttp.ClientSession() as session,
        ):
            pair = await open_pair(server, session)
            for index in range(PAGE_SIZE + 20):
                await pair.alice.send(session, pair.group_id, f"history message {index}")
            url = (
                f"{server.base_url}/api/fabric/conversations/{pair.group_id}/messages"
                f"?page_size={PAGE_SIZE}"
            )
            headers = pair.alice.headers
            decode = msgspec.json.Decoder(_ChatPage).decode

            raw_cpu, sdk_cpu = CpuClock(), CpuClock()

            async def raw() -> float:
                started = time.perf_counter()
                raw_cpu.start()
                for _ in range(calls):
                    async with session.get(url, headers=headers) as answer:
                        page = decode(await answer.read())
                    assert len(page.data) == PAGE_SIZE
                raw_cpu.stop(calls)
                return (time.perf_counter() - started) / calls * 1e3

            async with AsyncClient(
                token=pair.alice.token, base_url=server.base_url, ws_url=server.ws_url
            ) as client:
                await client.chat.join(address_id=pair.bob.me)

                async def sdk() -> float:
                    started = time.perf_counter()
                    sdk_cpu.start()
                    for _ in range(calls):
                        page = await client.chat.get_messages(
                            address_id=pair.bob.me, page_size=PAGE_SIZE
                        )
                        assert len(page.data) == PAGE_SIZE
                    sdk_cpu.stop(calls)
                    return (time.perf_counter() - started) / calls * 1e3

                base, ours = await alternate(rounds, raw, sdk, batches=batches)
    ratio = ratio_stat(ours, base)
    return [
        FigureResult(
            figure="history fetch",
            what=f"get_messages(page_size={PAGE_SIZE}) round trip (ms/page)",
            target=f"SDK time <= {TARGET:g}x raw",
            value=Stat.of(ours, "ms"),
            baseline=Stat.of(base, "ms"),
            ratio=ratio,
            ratio_meaning="SDK time / raw time",
            met=ratio.median <= TARGET,
            extra={
                "SDK pages/s": Stat.of([1e3 / value for value in ours], "pages/s"),
                "raw pages/s": Stat.of([1e3 / value for value in base], "pages/s"),
                "SDK client CPU per page (every batch)": sdk_cpu.stat(),
                "raw client CPU per page (every batch)": raw_cpu.stat(),
            },
            notes={
                "run": f"best of {batches} alternating batches of {calls} calls per side",
                "baseline": "aiohttp GET of the same route + prebuilt msgspec decoder",
            },
        )
    ]
