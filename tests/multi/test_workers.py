"""``fabric-chat serve --workers 2``: two processes on one port, supervised by their parent."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path

import aiohttp
import msgspec
from fabric_chat_server.testing import ServerProcess


def _is_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    return b"multiprocessing" in command and b"resource_tracker" not in command


def _children(parent: int) -> set[int]:
    """Return the live (not zombie) child processes of ``parent``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(entry.name))
    return found


async def _workers(parent: int, count: int, within: float = 30.0) -> set[int]:
    """Wait until ``parent`` has ``count`` workers (the spawn helper aside) and return them."""
    async with asyncio.timeout(within):
        while True:
            workers = {pid for pid in _children(parent) if _is_worker(pid)}
            if len(workers) == count:
                return workers
            await asyncio.sleep(0.1)


async def test_two_workers_share_a_port_and_the_parent_supervises_them(postgres_dsn: str) -> None:
    token = "PT" + secrets.token_hex(16)
    env = {"FABRIC_CHAT_PROJECT_ID": "workers", "FABRIC_CHAT_PROJECT_TOKEN": token}
    server = ServerProcess("--db", postgres_dsn, "--workers", "2", env=env, startup_timeout=60)
    await server.start()
    try:
        assert server.process is not None
        parent = server.process.pid
        first = await _workers(parent, 2)
        auth = {"Authorization": aiohttp.encode_basic_auth("workers", token)}
        async with aiohttp.ClientSession() as session:
            for _ in range(8):  # new connections each time: both workers answer, alike
                async with (
                    aiohttp.ClientSession() as fresh,
                    fresh.get(server.base_url + "/readyz") as ready,
                ):
                    assert ready.status == 200
            async with session.post(
                server.base_url + "/api/fabric/subscribers/tokens",
                json={"reference": "alice"},
                headers=auth,
            ) as minted:
                assert minted.status == 200
                assert msgspec.json.decode(await minted.read())["token"]
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            second = await _workers(parent, 2)  # started again
            assert victim not in second
            async with (
                aiohttp.ClientSession() as fresh,
                fresh.get(server.base_url + "/healthz") as health,
            ):
                assert health.status == 200
        status = await server.stop(signal.SIGTERM, grace=20)
        assert status == 0
        assert not _children(parent)
    finally:
        await server.stop(signal.SIGKILL)
