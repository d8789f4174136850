"""What one caller can hold is bounded: sockets, sessions, connects, idle connections."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from fabric_chat._protocol import CONVERSATION_MESSAGE, LIMIT_EXCEEDED, SIGNALWIRE_CONNECT
from fabric_chat_server.testing import LocalServer, ServerProcess

#: RSS the server may gain over the abuse below. The old design (every un-acked frame kept per
#: session) grew by hundreds of MiB under the same load; positions make it independent of it.
RSS_BOUND_MIB = 32
CYCLES, SENDS = 2_000, 500
_PROJECT = ("abuse", "PT-" + "a" * 32)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _connect_frame(token: str, protocol: str | None = None) -> str:
    params: dict[str, Any] = {
        "version": {"major": 4, "minor": 0, "revision": 0},
        "event_acks": True,
        "authentication": {"jwt_token": token},
    }
    if protocol is not None:
        params["protocol"] = protocol
    frame = {"jsonrpc": "2.0", "id": "c", "method": SIGNALWIRE_CONNECT, "params": params}
    return msgspec.json.encode(frame).decode()


async def test_connect_cycles_and_a_reader_that_never_acks_keep_rss_bounded(
    tmp_path: Path,
) -> None:
    args = ["--db", str(tmp_path / "chat.db"), "--connect-rate", "0", "--rate-limit", "0"]
    args += ["--project-id", _PROJECT[0], "--project-token", _PROJECT[1]]
    basic = "Basic " + base64.b64encode(":".join(_PROJECT).encode()).decode()
    async with ServerProcess(*args) as process, aiohttp.ClientSession() as session:
        assert process.process is not None
        tokens = {}
        for name in ("alice", "bob"):
            async with session.post(
                process.base_url + "/api/fabric/subscribers/tokens",
                json={"reference": name},
                headers={"Authorization": basic},
            ) as response:
                tokens[name] = (await response.json())["token"]
        bearer = {"Authorization": f"Bearer {tokens['bob']}"}
        async with session.get(
            process.base_url + "/api/fabric/subscriber/info", headers=bearer
        ) as r:
            bob_address = (await r.json())["fabric_addresses"][0]["id"]
        alice = {"Authorization": f"Bearer {tokens['alice']}"}

        async def send(n: int) -> None:
            body = {"conversation_id": bob_address, "text": f"m{n}"}
            async with session.post(
                process.base_url + "/api/fabric/messages", json=body, headers=alice
            ) as response:
                assert response.status == 201

        async def cycles(count: int) -> None:
            for _ in range(count):
                async with session.ws_connect(process.ws_url + "/") as ws:
                    await ws.send_str(_connect_frame(tokens["bob"]))
                    assert "result" in msgspec.json.decode((await ws.receive()).data)

        # A reader that never acks: it gets every event, and the server keeps none of them.
        reader = await session.ws_connect(process.ws_url + "/")
        await reader.send_str(_connect_frame(tokens["bob"]))
        received = 0

        async def read() -> None:
            nonlocal received
            async for message in reader:
                frame = msgspec.json.decode(message.data)
                if frame.get("params", {}).get("event_type") == CONVERSATION_MESSAGE:
                    received += 1
                    if received == SENDS + 10:
                        return

        async with asyncio.timeout(240), asyncio.TaskGroup() as tasks:
            reading = tasks.create_task(read())
            for n in range(10):  # warm up every path first
                await send(n)
            await cycles(20)
            before = _rss_mib(process.process.pid)
            await asyncio.gather(*(cycles(CYCLES // 4) for _ in range(4)))
            for start in range(0, SENDS, 10):
                await asyncio.gather(*(send(n) for n in range(start, start + 10)))
            await reading
            grown = _rss_mib(process.process.pid) - before
        await reader.close()
    assert received == SENDS + 10
    assert grown < RSS_BOUND_MIB, f"server RSS grew by {grown:.1f} MiB"


async def test_sockets_and_connects_per_caller_are_limited(
    session: aiohttp.ClientSession, rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with LocalServer(
        max_sockets_per_subscriber=2,
        connect_burst=3,
        connects_per_second=0.01,
        **store_options,
    ) as server:
        bob = await server.token("bob")
        sockets = [await rpc_for(server) for _ in range(4)]
        assert "result" in await sockets[0].connect(bob)
        assert "result" in await sockets[1].connect(bob)
        assert (await sockets[2].connect(bob))["error"]["code"] == LIMIT_EXCEEDED  # a third socket
        await sockets[0].close()
        assert (await sockets[3].connect(bob))["error"][
            "code"
        ] == LIMIT_EXCEEDED  # a fourth connect/s
        # One client address may open ten times the burst, then gets 429.
        statuses = []
        for _ in range(30):
            async with session.get(
                server.ws_url + "/",
                headers={
                    "Upgrade": "websocket",
                    "Connection": "Upgrade",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            ) as response:
                statuses.append(response.status)
        assert 429 in statuses


async def test_idle_sockets_and_half_sent_requests_are_closed() -> None:
    async with (
        LocalServer(auth_timeout=0.3, header_timeout=0.3) as server,
        aiohttp.ClientSession() as session,
    ):
        ws = await session.ws_connect(server.ws_url + "/")
        async with asyncio.timeout(5):
            message = await ws.receive()  # nothing sent: the server closes it
        assert message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/fabric/subscriber/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed by the server, no answer
        writer.close()
