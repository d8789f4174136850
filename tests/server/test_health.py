"""``/healthz`` and ``/readyz``: 200 when up; 503 naming the store or the bus when one is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from fabric_chat_server.app import create_app
from fabric_chat_server.bus import OnPositions, OnResync
from fabric_chat_server.config import ServerConfig
from fabric_chat_server.sqlite_store import SqliteStore


class FlakyStore(SqliteStore):
    """A SQLite store whose reads fail on cue (the database went away)."""

    down = False

    async def get_setting(self, key: str) -> str | None:
        if self.down:
            raise OSError("connection refused")
        return await super().get_setting(key)


class FlakyBus:
    """A bus whose listener goes down on cue."""

    def __init__(self) -> None:
        self.down = False
        self.started = False
        self.closed = False

    async def start(self, on_positions: OnPositions, on_resync: OnResync) -> None:
        self.started = True

    def publish(self, group_id: str, seq: int) -> None:
        pass

    def problems(self) -> list[str]:
        return ["the listener connection is down"] if self.down else []

    async def close(self) -> None:
        self.closed = True


class Running:
    def __init__(self, base_url: str, store: FlakyStore, bus: FlakyBus) -> None:
        self.base_url, self.store, self.bus = base_url, store, bus

    async def get(self, path: str) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base_url + path) as response,
        ):
            return response.status, msgspec.json.decode(await response.read())


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    store, bus = FlakyStore(tmp_path / "chat.db"), FlakyBus()
    app = create_app(ServerConfig(port=0, db_path=tmp_path / "chat.db"), store=store, bus=bus)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Running(f"http://127.0.0.1:{port}", store, bus)
    finally:
        await runner.cleanup()
    assert bus.started
    assert bus.closed


async def test_health_and_readiness_answer_when_everything_is_up(running: Running) -> None:
    assert await running.get("/healthz") == (200, {"status": "ok"})
    assert await running.get("/readyz") == (200, {"status": "ready"})


async def test_readiness_names_the_store_when_it_does_not_answer(running: Running) -> None:
    running.store.down = True
    status, body = await running.get("/readyz")
    assert status == 503
    assert [(item["code"], item["attribute"]) for item in body["errors"]] == [
        ("store_down", "store")
    ]
    assert await running.get("/healthz") == (200, {"status": "ok"})  # the process still answers
    running.store.down = False
    assert await running.get("/readyz") == (200, {"status": "ready"})


async def test_readiness_names_the_bus_and_the_store_when_both_are_down(running: Running) -> None:
    running.bus.down = True
    status, body = await running.get("/readyz")
    assert status == 503
    assert body["errors"] == [
        {
            "type": "server_error",
            "code": "bus_down",
            "message": "the listener connection is down",
            "attribute": "bus",
        }
    ]
    running.store.down = True
    status, body = await running.get("/readyz")
    assert status == 503
    assert [item["attribute"] for item in body["errors"]] == ["store", "bus"]
