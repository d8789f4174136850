"""A fan-out client process: ``python -m bench._fanout_worker`` (driven by :mod:`bench.fanout`).

Reads one JSON line of settings from stdin (``mode`` ``sdk`` or ``raw``, URLs, tokens, the room
address), opens one socket per token and subscribes, then prints JSON lines to stdout:
``{"ready": n}`` once every socket is subscribed, and ``{"done": text, "times": [...]}`` when all
of its sockets received the message ``text`` (``time.perf_counter`` of each delivery; the clock
is system-wide on Linux, so the coordinator can compare). A ``stop`` line on stdin closes
everything; the process prints ``{"closed": true}`` and exits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from typing import Any

import aiohttp
import msgspec

__all__ = ["main"]

_SUBSCRIBE_AT_ONCE = 16


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(msgspec.json.encode(message).decode() + "\n")
    sys.stdout.flush()


class _Tally:
    """Delivery times per message text; reports a text once every socket got it."""

    def __init__(self, sockets: int) -> None:
        self.sockets = sockets
        self.times: dict[str, list[float]] = defaultdict(list)

    def received(self, text: str | None) -> None:
        now = time.perf_counter()
        if text is None:
            return
        times = self.times[text]
        times.append(now)
        if len(times) == self.sockets:
            _emit({"done": text, "times": self.times.pop(text)})


async def _open_sdk(
    settings: dict[str, Any], session: aiohttp.ClientSession, tally: _Tally
) -> list[Any]:
    from fabric_chat import AsyncClient

    gate = asyncio.Semaphore(_SUBSCRIBE_AT_ONCE)
    clients: list[Any] = []

    async def one(token: str) -> None:
        async with gate:
            client = AsyncClient(
                token=token,
                base_url=settings["base_url"],
                ws_url=settings["ws_url"],
                session=session,
            )
            clients.append(client)
            await client.chat.subscribe(
                address_id=settings["room"], on_message=lambda m: tally.received(m.text)
            )

    async with asyncio.TaskGroup() as tasks:
        for token in settings["tokens"]:
            tasks.create_task(one(token))
    return clients


async def _open_raw(
    settings: dict[str, Any], session: aiohttp.ClientSession, tally: _Tally
) -> list[Any]:
    from bench._rawws import RawSubscriber

    sockets = [
        RawSubscriber(session, settings["ws_url"], None, lambda m: tally.received(m.text))
        for _ in range(settings["count"])
    ]
    gate = asyncio.Semaphore(_SUBSCRIBE_AT_ONCE)

    async def one(socket: RawSubscriber) -> None:
        async with gate:
            await socket.start()

    async with asyncio.TaskGroup() as tasks:
        for socket in sockets:
            tasks.create_task(one(socket))
    return sockets


async def _main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    settings: dict[str, Any] = msgspec.json.decode(await stdin.readline())
    count = len(settings["tokens"]) if settings["mode"] == "sdk" else settings["count"]
    tally = _Tally(count)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        opened: list[Any] = []
        try:
            if settings["mode"] == "sdk":
                opened = await _open_sdk(settings, session, tally)
            else:
                opened = await _open_raw(settings, session, tally)
            _emit({"ready": count})
            while (await stdin.readline()).strip() not in (b"stop", b""):
                pass
        finally:
            await asyncio.gather(*(item.aclose() for item in opened), return_exceptions=True)
    _emit({"closed": True})


def main() -> None:
    """Run the worker until told to stop."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
