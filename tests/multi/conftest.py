"""Several ``fabric-chat serve`` instances on one PostgreSQL, and a front door per client.

Each instance is a real subprocess on 127.0.0.1 (``--db postgresql://...``). Clients reach them
through a :class:`FrontDoor`: a TCP forwarder that tries its instances in order and takes the
first that accepts, as a proxy with health checks would. A client's front door lists its home
instance first, so members spread over the instances, and a client whose instance dies
reconnects (and resumes its session) on the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import msgspec
import pytest
from fabric_chat_server.testing import ServerProcess

__all__ = ["Cluster", "FrontDoor", "Instance"]


class FrontDoor:
    """A TCP forwarder on 127.0.0.1 to the first of its ``ports`` that accepts a connection."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for port in self.ports:
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(_pipe(reader, up_writer))
                group.create_task(_pipe(up_reader, writer))
        except* (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(task)
            for stream in (writer, up_writer):
                stream.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._pipes):
                task.cancel()
            await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


@dataclass
class Instance:
    """One ``fabric-chat serve`` process of the cluster."""

    process: ServerProcess
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """N instances on one PostgreSQL database, the project credentials, and front doors."""

    dsn: str
    project_id: str
    project_token: str
    instances: list[Instance] = field(default_factory=list)
    doors: list[FrontDoor] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "FABRIC_CHAT_PROJECT_ID": self.project_id,
            "FABRIC_CHAT_PROJECT_TOKEN": self.project_token,
        }

    async def start_instance(self, *args: str) -> Instance:
        process = ServerProcess("--db", self.dsn, "--ping-interval", "0.5", *args, env=self.env())
        await process.start()
        instance = Instance(process, int(process.base_url.rsplit(":", 1)[1]))
        self.instances.append(instance)
        return instance

    async def door(self, *order: int) -> FrontDoor:
        """A front door trying the instances of ``order`` (indexes), in that order."""
        door = FrontDoor([self.instances[index].port for index in order])
        await door.start()
        self.doors.append(door)
        return door

    async def token(self, reference: str) -> str:
        """Mint a token for ``reference`` on the first instance (any would do)."""
        auth = {"Authorization": aiohttp.encode_basic_auth(self.project_id, self.project_token)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.instances[0].base_url + "/api/fabric/subscribers/tokens",
                json={"reference": reference, "display_name": reference.title()},
                headers=auth,
            ) as response,
        ):
            assert response.status == 200, await response.text()
            return str(msgspec.json.decode(await response.read())["token"])

    async def room(self, name: str) -> str:
        auth = {"Authorization": aiohttp.encode_basic_auth(self.project_id, self.project_token)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.instances[0].base_url + "/api/fabric/addresses",
                json={"name": name, "type": "room"},
                headers=auth,
            ) as response,
        ):
            assert response.status == 201, await response.text()
            return str(msgspec.json.decode(await response.read())["id"])

    async def close(self) -> None:
        for door in self.doors:
            await door.close()
        for instance in self.instances:
            await instance.process.stop()


@pytest.fixture
async def cluster(postgres_dsn: str) -> AsyncIterator[Cluster]:
    running = Cluster(postgres_dsn, "multi-" + uuid.uuid4().hex[:8], "PT" + secrets.token_hex(24))
    try:
        yield running
    finally:
        await running.close()
