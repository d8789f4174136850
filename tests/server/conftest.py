"""Fixtures of the server tests: a real in-process server, an HTTP helper and a socket helper."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import msgspec
import pytest
from fabric_chat._protocol import CONVERSATION_MESSAGE, SIGNALWIRE_CONNECT, SIGNALWIRE_EVENT
from fabric_chat_server._sqlite_rows import TABLES
from fabric_chat_server.testing import LocalServer

__all__ = ["STORES", "Api", "Rpc", "module_store_options", "row_counts", "store_row_counts"]

STORES = ("sqlite", "postgres")
"""The ``params`` of a module-scoped fixture that runs once per store (see
:func:`module_store_options`)."""


@contextlib.contextmanager
def module_store_options(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """``LocalServer`` keyword arguments for a module-scoped fixture with ``params=STORES``.

    ``"postgres"`` gets a fresh database of the session's cluster, dropped afterwards; the
    function-scoped ``store_options`` cannot serve a module-scoped server.
    """
    if request.param != "postgres":
        yield {}
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"m{uuid.uuid4().hex[:12]}"
    dsn = cluster.create_database(name)
    try:
        yield {"database_url": dsn}
    finally:
        if cluster.running:
            cluster.drop_database(name)


async def store_row_counts(store: Any) -> dict[str, int]:
    """Return the number of rows of each table, as the store's own connections see them.

    For checks that a refused request changed nothing. Test code that queries through the
    store's pool (PostgreSQL) or its private query helper (SQLite): no test hook on the store.
    """
    pool = getattr(store, "pool", None)
    counts: dict[str, int] = {}
    for table in TABLES:
        sql = f"SELECT count(*) FROM {table}"
        if pool is not None:
            counts[table] = int(await pool.fetchval(sql))
        else:
            counts[table] = int((await store._one(sql, ()))[0])
    return counts


async def row_counts(server: LocalServer) -> dict[str, int]:
    """:func:`store_row_counts` of the running ``server``."""
    return await store_row_counts(server.state.store)


class Api:
    """Plain HTTP calls against a running server, answering ``(status, decoded body)``."""

    def __init__(self, server: LocalServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        basic: bool = False,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if basic:
            all_headers["Authorization"] = self.server.basic_auth()
        url = path if path.startswith("http") else self.server.base_url + path
        async with self.session.request(
            method, url, json=json, data=data, headers=all_headers
        ) as response:
            raw = await response.read()
            body = msgspec.json.decode(raw) if raw else None
            return response.status, body, response

    async def get(self, path: str, token: str, **kwargs: Any) -> tuple[int, Any]:
        status, body, _ = await self.call("GET", path, token=token, **kwargs)
        return status, body

    async def post(
        self, path: str, token: str | None, json: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        status, body, _ = await self.call("POST", path, token=token, json=json, **kwargs)
        return status, body

    async def send(self, token: str, address_id: str, text: str) -> dict[str, Any]:
        status, body = await self.post(
            "/api/fabric/messages", token, {"conversation_id": address_id, "text": text}
        )
        assert status == 201, body
        return body  # type: ignore[no-any-return]


class Rpc:
    """A raw JSON-RPC WebSocket client, frame by frame."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.protocol = ""

    async def send(self, frame: Any) -> None:
        await self.ws.send_str(msgspec.json.encode(frame).decode())

    async def receive(self, wait: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            message = await self.ws.receive()
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = msgspec.json.decode(message.data)
        return frame

    async def receive_until(self, predicate: Any, *, limit: int = 50) -> dict[str, Any]:
        """Return the first frame matching ``predicate``, answering pings on the way."""
        for _ in range(limit):
            frame = await self.receive()
            if predicate(frame):
                return frame
        raise AssertionError("no matching frame")

    async def connect(
        self, token: str, *, protocol: str | None = None, event_acks: bool = True
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "version": {"major": 4, "minor": 0, "revision": 0},
            "event_acks": event_acks,
            "agent": "tests",
            "authentication": {"jwt_token": token},
        }
        if protocol is not None:
            params["protocol"] = protocol
        await self.send(
            {"jsonrpc": "2.0", "id": "connect-1", "method": SIGNALWIRE_CONNECT, "params": params}
        )
        result = await self.receive()
        if "result" in result:
            self.protocol = result["result"]["protocol"]
        return result

    async def event(
        self, event_type: str = CONVERSATION_MESSAGE, *, ack: bool = True
    ) -> dict[str, Any]:
        frame = await self.receive_until(
            lambda f: (
                f.get("method") == SIGNALWIRE_EVENT and f["params"]["event_type"] == event_type
            )
        )
        if ack:
            await self.ack(frame["id"])
        return frame

    async def ack(self, event_id: str) -> None:
        await self.send({"jsonrpc": "2.0", "id": event_id, "result": {}})

    async def close(self) -> None:
        await self.ws.close()


@pytest.fixture
async def server(store_options: dict[str, Any]) -> AsyncIterator[LocalServer]:
    async with LocalServer(**store_options) as running:
        yield running
        assert running._app is None or running.state.stats.unexpected == 0


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(server: LocalServer, session: aiohttp.ClientSession) -> Api:
    return Api(server, session)


@pytest.fixture
async def rpc_for(session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    """Open a raw JSON-RPC socket to any running server: ``await rpc_for(server)``."""
    sockets: list[Rpc] = []

    async def open_socket(target: LocalServer) -> Rpc:
        ws = await session.ws_connect(target.ws_url + "/", autoping=True)
        rpc = Rpc(ws)
        sockets.append(rpc)
        return rpc

    yield open_socket
    for rpc in sockets:
        await rpc.close()


@pytest.fixture
def rpc_factory(server: LocalServer, rpc_for: Any) -> Any:
    """Open a raw JSON-RPC socket to the ``server`` fixture: ``await rpc_factory()``."""

    async def open_socket() -> Rpc:
        return await rpc_for(server)  # type: ignore[no-any-return]

    return open_socket
