"""Run the real server in-process for tests, demos and benchmarks.

>>> async with LocalServer() as server:                       # doctest: +SKIP
...     alice = await server.token("alice", display_name="Alice")
...     room = await server.create_room("general")

:class:`LocalServer` binds 127.0.0.1 on a free port (kept across :meth:`LocalServer.restart`),
uses a temporary SQLite file unless given one, and offers one fault switch of its own: drop
every socket (the server's classes carry no test hooks). :class:`ServerProcess` runs
``fabric-chat serve`` in a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import TCPConnector, web
from fabric_chat.models import CreateAddressRequest, CreateSubscriberTokenRequest
from fabric_chat.project import ProjectClient

from .app import create_app
from .bus import Bus
from .config import ServerConfig
from .state import STATE, ServerState
from .tls import server_tls_context
from .websocket import close_all_sockets

__all__ = ["LocalServer", "ServerProcess", "ThreadedServer"]

_LISTENING = re.compile(r"^listening on (https?://\S+)$")
_T = TypeVar("_T")


class LocalServer:
    """The chat server running in this event loop on 127.0.0.1.

    Args:
        db_path: The SQLite file; a temporary one (removed on exit) when ``None``.
        bus: The bus to other instances (a :class:`~fabric_chat_server.bus.LocalBus` when
            ``None``).
        database_url: A PostgreSQL DSN: the store is then that database, not SQLite.
        client_ssl: The TLS context this helper's own project client uses to reach the server
            (one that trusts the certificate of ``tls_cert``, when it is a private one).
        **config_overrides: Any :class:`~fabric_chat_server.config.ServerConfig` field
            (``ping_interval``, ``resume_window``, ``rate_limit_per_second``...).
    """

    def __init__(
        self,
        db_path: Path | str | None = None,
        *,
        bus: Bus | None = None,
        database_url: str | None = None,
        client_ssl: ssl.SSLContext | None = None,
        **config_overrides: Any,
    ) -> None:
        self._bus = bus
        self._client_ssl = client_ssl
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if database_url is not None:
            config_overrides["database_url"] = database_url
        if db_path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fabric-chat-")
            db_path = Path(self._tmp.name) / "chat.db"
        overrides: dict[str, Any] = {"host": "127.0.0.1", "port": 0, **config_overrides}
        overrides.setdefault("project_id", "local-" + uuid.uuid4().hex[:12])
        overrides.setdefault("project_token", "PT" + secrets.token_hex(24))
        self.config = ServerConfig(db_path=Path(db_path), **overrides)
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self._project: ProjectClient | None = None
        self.port = int(self.config.port)
        self.project_id: str = overrides["project_id"]
        self.project_token: str = overrides["project_token"]

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r})"

    @property
    def app(self) -> web.Application:
        """The running aiohttp application."""
        if self._app is None:
            raise RuntimeError("the server is not running")
        return self._app

    @property
    def state(self) -> ServerState:
        """The running server's state (store, hub, limits)."""
        return self.app[STATE]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss`` with TLS)."""
        scheme = "wss" if self.config.tls else "ws"
        return f"{scheme}://{self.config.host}:{self.port}"

    async def start(self) -> None:
        """Start the server (on the same port as before, after a stop)."""
        config = replace(self.config, port=self.port)
        app = create_app(config, bus=self._bus)
        runner = web.AppRunner(
            app,
            shutdown_timeout=1.0,
            handle_signals=False,
            access_log=None,
            keepalive_timeout=config.header_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, config.host, self.port, ssl_context=server_tls_context(config))
        await site.start()
        self._app, self._runner = app, runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop the server: sockets get ``signalwire.disconnect``, the database is closed."""
        runner, self._runner, self._app = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    async def restart(self) -> None:
        """Stop, then start on the same database and port (open sockets are dropped)."""
        await self.stop()
        await self.start()

    async def aclose(self) -> None:
        """Stop the server and release the client session and the temporary directory."""
        await self.stop()
        if self._project is not None:
            await self._project.aclose()
            self._project = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def drop_sockets(self) -> None:
        """Abort every open WebSocket at once, with no close frame (a network fault)."""
        await close_all_sockets(self.app, graceful=False)

    def basic_auth(self) -> str:
        """The ``Authorization`` header value of the project credentials (for raw requests)."""
        return ProjectClient.authorization(self.project_id, self.project_token)

    @property
    def _projects(self) -> ProjectClient:
        """The project client, made on first use (with the credentials known by then)."""
        if self._runner is None:
            raise RuntimeError("the server is not started")
        if self._project is None:
            if not self.project_id or not self.project_token:
                raise RuntimeError("this server's project credentials are not known here")
            connector = None if self._client_ssl is None else TCPConnector(ssl=self._client_ssl)
            self._project = ProjectClient(
                project_id=self.project_id,
                project_token=self.project_token,
                base_url=self.base_url,
                connector=connector,
            )
        return self._project

    async def token(self, reference: str, *, display_name: str | None = None) -> str:
        """Mint a SAT for subscriber ``reference``, creating the subscriber when new."""
        body = CreateSubscriberTokenRequest(reference=reference, display_name=display_name)
        return (await self._projects.create_subscriber_token(body)).token

    async def address_of(self, reference: str) -> str:
        """Return the own address id of subscriber ``reference`` (created when new)."""
        _, address = await self.state.store.ensure_subscriber(self.project_id, reference, None)
        return address.id

    async def create_room(self, name: str, *, display_name: str | None = None) -> str:
        """Create (or find) the room ``name`` and return its address id."""
        body = CreateAddressRequest(name=name, type="room", display_name=display_name)
        return (await self._projects.create_address(body)).id


class ThreadedServer:
    """A :class:`LocalServer` on its own event loop in a background thread, for sync code.

    ``with ThreadedServer() as server: token = server.token("alice")``; the methods mirror
    :class:`LocalServer`'s and block until done (at most ``timeout`` seconds each).

    Args:
        db_path: As for :class:`LocalServer`.
        timeout: Seconds each call may take.
        **config_overrides: As for :class:`LocalServer`.
    """

    def __init__(
        self, db_path: Path | str | None = None, *, timeout: float = 30.0, **config_overrides: Any
    ) -> None:
        self.server = LocalServer(db_path, **config_overrides)
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fabric-chat-server", daemon=True
        )

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT``."""
        return self.server.ws_url

    @property
    def project_id(self) -> str:
        """The project id."""
        return self.server.project_id

    @property
    def project_token(self) -> str:
        """The project API token."""
        return self.server.project_token

    def token(self, reference: str, *, display_name: str | None = None) -> str:
        """Mint a SAT (see :meth:`LocalServer.token`)."""
        return self._run(self.server.token(reference, display_name=display_name))

    def address_of(self, reference: str) -> str:
        """Return a subscriber's own address id (see :meth:`LocalServer.address_of`)."""
        return self._run(self.server.address_of(reference))

    def create_room(self, name: str, *, display_name: str | None = None) -> str:
        """Create a room (see :meth:`LocalServer.create_room`)."""
        return self._run(self.server.create_room(name, display_name=display_name))

    def restart(self) -> None:
        """Restart on the same database and port."""
        self._run(self.server.restart())

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run any coroutine on the server's loop (e.g. ``server.call(server.server.stop())``)."""
        return self._run(coroutine)

    def __enter__(self) -> Self:
        self._thread.start()
        self._run(self.server.start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._run(self.server.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self.timeout)
            self._loop.close()


class ServerProcess:
    """``fabric-chat serve`` in a subprocess, for CLI and end-to-end tests.

    Args:
        *args: Extra ``serve`` arguments (``--db PATH``, ``--project-id``...).
        env: Extra environment variables.
        startup_timeout: Seconds to wait for the ``listening on`` line.
    """

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, startup_timeout: float = 20.0
    ) -> None:
        self.args = ["--host", "127.0.0.1", "--port", "0", *args]
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout = startup_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.lines: list[str] = []
        self.stderr = ""

    @property
    def ws_url(self) -> str:
        """``ws://HOST:PORT`` (``wss`` over TLS) of the running server."""
        scheme, _, rest = self.base_url.partition("://")
        return ("wss" if scheme == "https" else "ws") + "://" + rest

    async def start(self) -> None:
        """Start the process and wait for its ``listening on`` line."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fabric_chat_cli",
            "serve",
            *self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        assert self.process.stdout is not None
        async with asyncio.timeout(self.startup_timeout):
            line = (await self.process.stdout.readline()).decode().strip()
        self.lines.append(line)
        match = _LISTENING.match(line)
        if match is None:
            await self.stop()
            raise RuntimeError(f"unexpected first line from fabric-chat serve: {line!r}")
        self.base_url = match.group(1)

    async def read_line(self) -> str:
        """Return the next stdout line (waiting at most 5 seconds)."""
        assert self.process is not None
        assert self.process.stdout is not None
        async with asyncio.timeout(5.0):
            line = (await self.process.stdout.readline()).decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int:
        """Send ``sig`` and return the exit code (killing the process after ``grace`` seconds).

        What the process wrote to stderr is then in :attr:`stderr`.
        """
        process = self.process
        if process is None:
            return 0
        if process.returncode is None:
            process.send_signal(sig)
            try:
                async with asyncio.timeout(grace):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            await process.stdout.read()
        if process.stderr is not None:
            self.stderr += (await process.stderr.read()).decode(errors="replace")
        assert process.returncode is not None
        return process.returncode

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
