"""Processes the benchmarks talk to: the chat server, and helpers for raw (SDK-free) calls."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import msgspec
from fabric_chat.models import CreateAddressRequest, CreateSubscriberTokenRequest
from fabric_chat.project import ProjectClient
from fabric_chat_server.workers import die_with_parent

__all__ = [
    "PROFILE_ENV",
    "ROOT",
    "BenchServer",
    "ListeningProcess",
    "Pair",
    "RawCaller",
    "open_pair",
    "python_command",
    "rss_kb",
]

PROFILE_ENV = "BENCH_PROFILE_DIR"
"""Set to a directory to run every benchmark subprocess under cProfile, one ``.prof`` each."""

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: benchmark subprocesses run there, so ``bench`` is importable."""

_profiles = itertools.count()
_LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)$")
_STARTUP_TIMEOUT = 30.0


def python_command(module: str, *args: str) -> list[str]:
    """Return the command running ``python -m module args``, under cProfile when asked.

    With :data:`PROFILE_ENV` set to a directory, the process writes
    ``DIR/<module>-<n>.prof`` when it exits (``python -m pstats`` reads it).
    """
    profile_dir = os.environ.get(PROFILE_ENV)
    if not profile_dir:
        return [sys.executable, "-m", module, *args]
    target = Path(profile_dir).resolve() / f"{module}-{os.getpid()}-{next(_profiles)}.prof"
    return [sys.executable, "-m", "cProfile", "-o", str(target), "-m", module, *args]


def rss_kb(pid: int | str = "self") -> int:
    """Return the resident set size (``VmRSS``) of a process, in KiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")  # pragma: no cover


class ListeningProcess:
    """A Python module run in a subprocess whose first stdout line is ``listening on URL``.

    Args:
        module: The module to run with ``python -m``.
        args: Its arguments.
        log_path: Where its stderr goes.
    """

    def __init__(
        self,
        module: str,
        args: list[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self._module = module
        self._command = python_command(module, *args)
        self._log_path = log_path
        self._env = {**os.environ, **env} if env else None
        self._process: asyncio.subprocess.Process | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        """The process id."""
        if self._process is None:
            raise RuntimeError("not started")
        return self._process.pid

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return "ws://" + self.base_url.removeprefix("http://")

    async def start(self) -> None:
        """Start the process and wait for its ``listening on`` line.

        Raises:
            RuntimeError: The process did not announce itself in time.
        """
        with self._log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self._command,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
                env=self._env,
                preexec_fn=die_with_parent,  # a killed bench leaves no server behind
            )
        assert self._process.stdout is not None
        try:
            async with asyncio.timeout(_STARTUP_TIMEOUT):
                line = (await self._process.stdout.readline()).decode().strip()
        except TimeoutError:
            line = ""
        match = _LISTENING.match(line)
        if match is None:
            await self.stop()
            tail = self._log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self._module} did not start: {line!r}\n{tail}")
        self.base_url = match.group(1)

    async def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL after five seconds)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(5.0):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.read()

    def rss_kb(self) -> int:
        """The process's resident set size, in KiB."""
        return rss_kb(self.pid)


class BenchServer(ListeningProcess):
    """The chat server in its own process (see :mod:`bench._serve`), on a given database.

    The project token and the signing secret reach it through the environment
    (``FABRIC_CHAT_PROJECT_TOKEN``, ``FABRIC_CHAT_SIGNING_SECRET``), never its argv.

    Args:
        workdir: A temporary directory for the database and the log.
        db_path: The SQLite file (``workdir/chat.db`` when ``None``; may be pre-seeded), or a
            PostgreSQL URL (``postgresql://...``).
        project_id: The project id (fixed, so a seeded database can be reused).
        project_token: The project API token.
        jwt_secret: The secret that signs tokens and page tokens.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        db_path: Path | str | None = None,
        project_id: str = "bench-project",
        project_token: str | None = None,
        jwt_secret: str | None = None,
    ) -> None:
        self.db_path = db_path if db_path is not None else workdir / "chat.db"
        self.project_id = project_id
        self.project_token = project_token or "PT-bench-" + secrets.token_hex(8)
        self.jwt_secret = jwt_secret or "bench-secret-" + secrets.token_hex(8)
        self.workdir = workdir
        args = ["--db", str(self.db_path), "--project-id", project_id]
        secrets_env = {
            "FABRIC_CHAT_PROJECT_TOKEN": self.project_token,
            "FABRIC_CHAT_SIGNING_SECRET": self.jwt_secret,
        }
        super().__init__("bench._serve", args, log_path=workdir / "server.log", env=secrets_env)
        self._project: ProjectClient | None = None

    async def start(self) -> None:
        """Start the server and a client for project calls."""
        await super().start()
        if self._project is None:
            self._project = ProjectClient(
                project_id=self.project_id,
                project_token=self.project_token,
                base_url=self.base_url,
            )

    async def stop(self) -> None:
        """Stop the server and close the project session."""
        try:
            await super().stop()
        finally:
            if self._project is not None:
                await self._project.aclose()
                self._project = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def _projects(self) -> ProjectClient:
        if self._project is None:
            raise RuntimeError("the server is not started")
        return self._project

    async def token(self, reference: str) -> str:
        """Mint a SAT for subscriber ``reference`` (created when new)."""
        body = CreateSubscriberTokenRequest(reference=reference, display_name=reference.title())
        return (await self._projects.create_subscriber_token(body)).token

    async def tokens(self, references: list[str], *, concurrency: int = 16) -> list[str]:
        """Mint many SATs, ``concurrency`` at a time, in the order given."""
        gate = asyncio.Semaphore(concurrency)

        async def one(reference: str) -> str:
            async with gate:
                return await self.token(reference)

        return list(await asyncio.gather(*(one(reference) for reference in references)))

    async def create_room(self, name: str) -> str:
        """Create the room ``name`` and return its address id."""
        body = CreateAddressRequest(name=name, type="room")
        return (await self._projects.create_address(body)).id


class _Info(msgspec.Struct):
    fabric_addresses: list[dict[str, Any]]


class _Joined(msgspec.Struct):
    group_id: str


_decode_info = msgspec.json.Decoder(_Info).decode
_decode_joined = msgspec.json.Decoder(_Joined).decode


@dataclass(slots=True)
class RawCaller:
    """One subscriber talking to the server with plain aiohttp: the SDK-free baseline.

    Attributes:
        base_url: The server's origin.
        token: The subscriber's SAT.
        me: The subscriber's own address id (after :meth:`setup`).
    """

    base_url: str
    token: str
    me: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """The headers of every call (the bearer token)."""
        return {"Authorization": "Bearer " + self.token}

    def send_headers(self) -> dict[str, str]:
        """The headers of a send, as the SDK sends them (JSON body, a fresh idempotency key)."""
        return {
            "Authorization": "Bearer " + self.token,
            "Content-Type": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }

    async def setup(self, session: aiohttp.ClientSession) -> None:
        """Look up the subscriber's own address."""
        async with session.get(
            self.base_url + "/api/fabric/subscriber/info", headers=self.headers
        ) as answer:
            answer.raise_for_status()
            self.me = str(_decode_info(await answer.read()).fabric_addresses[0]["id"])

    async def join(self, session: aiohttp.ClientSession, peer: str) -> str:
        """Join the conversation with ``peer`` (group dialect) and return its group id."""
        body = msgspec.json.encode(
            {"from_fabric_address_id": self.me, "fabric_address_ids": [peer, self.me]}
        )
        async with session.post(
            self.base_url + "/api/fabric/conversations/join",
            data=body,
            headers={**self.headers, "Content-Type": "application/json"},
        ) as answer:
            answer.raise_for_status()
            return _decode_joined(await answer.read()).group_id

    def send_body(self, group_id: str, text: str) -> bytes:
        """The body of a send to ``group_id``, as the SDK builds it."""
        return msgspec.json.encode(
            {"group_id": group_id, "from_fabric_address_id": self.me, "text": text}
        )

    async def send(self, session: aiohttp.ClientSession, group_id: str, text: str) -> bytes:
        """POST one message and return the answer's body.

        Raises:
            aiohttp.ClientResponseError: The server refused it.
        """
        async with session.post(
            self.base_url + "/api/fabric/messages",
            data=self.send_body(group_id, text),
            headers=self.send_headers(),
        ) as answer:
            answer.raise_for_status()
            return await answer.read()


@dataclass(slots=True)
class Pair:
    """Two subscribers in one 1:1 conversation, both set up for raw calls.

    Attributes:
        alice: The caller whose calls are measured.
        bob: The other party.
        group_id: The conversation's group id (obtained once, by a join).
    """

    alice: RawCaller
    bob: RawCaller
    group_id: str


async def open_pair(server: BenchServer, session: aiohttp.ClientSession, tag: str = "") -> Pair:
    """Mint alice and bob, look up their addresses and join alice to bob."""
    alice_token, bob_token = await server.tokens(["alice" + tag, "bob" + tag])
    alice = RawCaller(server.base_url, alice_token)
    bob = RawCaller(server.base_url, bob_token)
    await alice.setup(session)
    await bob.setup(session)
    group_id = await alice.join(session, bob.me)
    await bob.join(session, alice.me)
    return Pair(alice, bob, group_id)
