"""AsyncClient memory probe: ``python -m bench._memory_probe`` (driven by :mod:`bench.memory`).

Reads one JSON line from stdin (``base_url``, ``ws_url``, ``token``, ``addresses``), subscribes
one ``fabric_chat.AsyncClient`` to the first address and records its RSS, then to every address
(one subscription each) and records it again, and prints one JSON line:
``{"rss_one_kb": ..., "rss_all_kb": ..., "subscriptions": n}``.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import msgspec
from fabric_chat import AsyncClient

from bench._server import rss_kb

__all__ = ["main"]


def _settled_rss() -> int:
    gc.collect()
    return rss_kb()


async def _main() -> None:
    settings: dict[str, Any] = msgspec.json.decode(sys.stdin.readline())
    addresses: list[str] = settings["addresses"]
    async with AsyncClient(
        token=settings["token"], base_url=settings["base_url"], ws_url=settings["ws_url"]
    ) as client:
        subscriptions = [
            await client.chat.subscribe(address_id=addresses[0], on_message=lambda m: None)
        ]
        await asyncio.sleep(0.2)
        rss_one = _settled_rss()
        for address in addresses[1:]:
            subscriptions.append(
                await client.chat.subscribe(address_id=address, on_message=lambda m: None)
            )
        await asyncio.sleep(0.2)
        rss_all = _settled_rss()
        for subscription in subscriptions:
            subscription.cancel()
    result = {"rss_one_kb": rss_one, "rss_all_kb": rss_all, "subscriptions": len(subscriptions)}
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")


def main() -> None:
    """Run the probe once."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
