"""Figure ``send``: ``client.chat.send_message`` against a raw POST of the same body.

One at a time, and 32 in flight. The raw baseline POSTs ``/api/fabric/messages`` with the body
the SDK builds (``group_id``, ``from_fabric_address_id``, ``text``) and the same headers (bearer
token, JSON content type, a fresh ``Idempotency-Key``), through one ``aiohttp.ClientSession``,
and decodes the answer with a prebuilt msgspec decoder. The SDK side has its join cached.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import msgspec
from fabric_chat import AsyncClient
from fabric_chat.models import ConversationMessage

from ._results import FigureResult
from ._server import BenchServer, open_pair
from ._stats import CpuClock, Stat, alternate, ratio_stat

__all__ = ["IN_FLIGHT", "run"]

IN_FLIGHT = 32
TARGET = 1.15


async def _rate(
    count: int, in_flight: int, send: Callable[[int], Awaitable[None]], cpu: CpuClock
) -> float:
    """Send ``count`` messages with ``in_flight`` at once and return messages per second."""
    queue = iter(range(count))

    async def worker() -> None:
        for index in queue:
            await send(index)

    started = time.perf_counter()
    cpu.start()
    async with asyncio.TaskGroup() as tasks:
        for _ in range(in_flight):
            tasks.create_task(worker())
    cpu.stop(count)
    return count / (time.perf_counter() - started)


def _row(name: str, in_flight: int, base: list[float], ours: list[float]) -> FigureResult:
    # Time per message is 1 / rate, so SDK time / raw time is raw rate / SDK rate.
    ratio = ratio_stat(base, ours)
    return FigureResult(
        figure=name,
        what=f"send_message, {in_flight} in flight (msg/s)",
        target=f"SDK time <= {TARGET:g}x raw",
        value=Stat.of(ours, "msg/s"),
        baseline=Stat.of(base, "msg/s"),
        ratio=ratio,
        ratio_meaning="SDK time / raw time",
        met=ratio.median <= TARGET,
        notes={"baseline": "aiohttp POST of the same route, body and headers"},
    )


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the send figure, one at a time and 32 in flight (messages per second)."""
    sequential = 5 if quick else 25
    parallel = 2 * IN_FLIGHT if quick else 8 * IN_FLIGHT
    rounds, batches = (2, 2) if quick else (9, 6)
    decode = msgspec.json.Decoder(ConversationMessage).decode
    results: list[FigureResult] = []
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        async with (
            BenchServer(Path(tmp)) as server,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session,
        ):
            pair = await open_pair(server, session)
            alice, group_id = pair.alice, pair.group_id

            async def raw_one(index: int) -> None:
                message = decode(await alice.send(session, group_id, f"raw message {index}"))
                assert message.text

            async with AsyncClient(
                token=alice.token, base_url=server.base_url, ws_url=server.ws_url
            ) as client:
                await client.chat.join(address_id=pair.bob.me)

                async def sdk_one(index: int) -> None:
                    sent = await client.chat.send_message(
                        address_id=pair.bob.me, text=f"sdk message {index}"
                    )
                    assert sent.last_message is not None

                for name, count, in_flight in (
                    ("send (1 at a time)", sequential, 1),
                    (f"send ({IN_FLIGHT} in flight)", parallel, IN_FLIGHT),
                ):
                    raw_cpu, sdk_cpu = CpuClock(), CpuClock()

                    async def raw(
                        count: int = count, in_flight: int = in_flight, cpu: CpuClock = raw_cpu
                    ) -> float:
                        return await _rate(count, in_flight, raw_one, cpu)

                    async def sdk(
                        count: int = count, in_flight: int = in_flight, cpu: CpuClock = sdk_cpu
                    ) -> float:
                        return await _rate(count, in_flight, sdk_one, cpu)

                    base, ours = await alternate(
                        rounds, raw, sdk, batches=batches, higher_is_better=True
                    )
                    row = _row(name, in_flight, base, ours)
                    row.extra["SDK client CPU per send (every batch)"] = sdk_cpu.stat()
                    row.extra["raw client CPU per send (every batch)"] = raw_cpu.stat()
                    row.notes["run"] = (
                        f"best of {batches} alternating batches of {count} sends per side"
                    )
                    results.append(row)
    return results
