"""Figure ``delivery latency``: send by one client to ``on_message`` in another.

Each message is sent only after the previous one arrived, so the figure is latency, not
queueing. The time runs from just before the send call to the receiving callback (one process,
one clock). SDK: ``send_message`` on alice's client, ``chat.subscribe`` on bob's. Raw baseline:
an aiohttp POST and a hand-written socket (:class:`~bench._rawws.RawSubscriber`) for carol, who
has her own conversation with alice, so that each run's messages reach one receiver only.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from fabric_chat import AsyncClient, ConversationChatMessage

from ._rawws import RawSubscriber
from ._results import FigureResult
from ._server import BenchServer, RawCaller
from ._stats import Stat, alternate, percentile, ratio_stat

__all__ = ["run"]

TARGET_P99_MS = 10.0
_WAIT = 10.0


class _Probe:
    """Matches received messages to the send waiting for them."""

    def __init__(self) -> None:
        self.waiting: asyncio.Future[float] | None = None
        self.text = ""

    def received(self, message: ConversationChatMessage) -> None:
        now = time.perf_counter()
        if self.waiting is not None and not self.waiting.done() and message.text == self.text:
            self.waiting.set_result(now)

    async def measure(self, text: str, send: Callable[[str], Awaitable[object]]) -> float:
        """Send ``text`` and return the milliseconds until it is received."""
        self.text = text
        self.waiting = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await send(text)
        async with asyncio.timeout(_WAIT):
            arrived = await self.waiting
        return (arrived - started) * 1e3


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the delivery latency figure (p50 and p99, milliseconds)."""
    per_run = 10 if quick else 400
    rounds = 2 if quick else 7
    samples: dict[str, list[float]] = {"raw": [], "sdk": []}
    p50: dict[str, list[float]] = {"raw": [], "sdk": []}
    p99: dict[str, list[float]] = {"raw": [], "sdk": []}
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        async with (
            BenchServer(Path(tmp)) as server,
            aiohttp.ClientSession() as session,
        ):
            alice_token, bob_token, carol_token = await server.tokens(["alice", "bob", "carol"])
            alice, bob, carol = (
                RawCaller(server.base_url, token) for token in (alice_token, bob_token, carol_token)
            )
            for caller in (alice, bob, carol):
                await caller.setup(session)
            carol_group = await alice.join(session, carol.me)
            await carol.join(session, alice.me)
            raw_probe, sdk_probe = _Probe(), _Probe()
            raw_socket = RawSubscriber(session, server.ws_url, carol_token, raw_probe.received)
            await raw_socket.start()
            sender = AsyncClient(token=alice_token, base_url=server.base_url, ws_url=server.ws_url)
            receiver = AsyncClient(token=bob_token, base_url=server.base_url, ws_url=server.ws_url)
            try:
                subscription = await receiver.chat.subscribe(
                    address_id=alice.me, on_message=sdk_probe.received
                )
                await sender.chat.join(address_id=bob.me)

                async def raw_send(text: str) -> None:
                    await alice.send(session, carol_group, text)

                async def sdk_send(text: str) -> None:
                    await sender.chat.send_message(address_id=bob.me, text=text)

                def runner(
                    name: str, probe: _Probe, send: Callable[[str], Awaitable[object]]
                ) -> Callable[[], Awaitable[float]]:
                    counter = iter(range(10**9))

                    async def one_run() -> float:
                        run_index = next(counter)
                        latencies = [
                            await probe.measure(f"{name} {run_index} {index}", send)
                            for index in range(per_run)
                        ]
                        if run_index > 0:  # run 0 is the warm-up
                            samples[name].extend(latencies)
                            p50[name].append(percentile(latencies, 50))
                            p99[name].append(percentile(latencies, 99))
                        return percentile(latencies, 99)

                    return one_run

                await alternate(
                    rounds,
                    runner("raw", raw_probe, raw_send),
                    runner("sdk", sdk_probe, sdk_send),
                )
                subscription.cancel()
            finally:
                await sender.aclose()
                await receiver.aclose()
                await raw_socket.aclose()
    pooled_p99 = percentile(samples["sdk"], 99)
    count = len(samples["sdk"])
    value = Stat.of(p99["sdk"], "ms")
    return [
        FigureResult(
            figure="delivery latency",
            what="send_message to on_message in another client, p99 per run (ms)",
            target=f"report; p99 < {TARGET_P99_MS:g} ms on loopback",
            value=value,
            baseline=Stat.of(p99["raw"], "ms"),
            ratio=ratio_stat(p99["sdk"], p99["raw"]),
            ratio_meaning="SDK p99 / raw p99",
            met=value.median < TARGET_P99_MS,
            extra={
                f"SDK p50 (per run of {per_run})": Stat.of(p50["sdk"], "ms"),
                "raw p50": Stat.of(p50["raw"], "ms"),
                f"SDK p50 over all {count} msgs": Stat.of([percentile(samples["sdk"], 50)], "ms"),
                f"SDK p99 over all {count} msgs": Stat.of([pooled_p99], "ms"),
                f"raw p99 over all {len(samples['raw'])} msgs": Stat.of(
                    [percentile(samples["raw"], 99)], "ms"
                ),
            },
            notes={
                "messages_per_run": per_run,
                "messages_measured": count,
                "baseline": "aiohttp POST + hand-written aiohttp socket (connect, acks, msgspec)",
                "clock": "time.perf_counter in the one process holding both clients",
                "met_by": "median over runs of each run's p99 (pooled p99 shown too)",
            },
        )
    ]
