"""``fabric-chat serve --workers N``: N server processes on one port, for the cores of a machine.

The parent settles the project credentials and the signing secret in the store once (so the
workers do not race to make them), then starts N workers, each a whole server instance bound
with ``SO_REUSEPORT`` to the same port (the kernel spreads connections among them). They share
the store and the bus (PostgreSQL), so any of them serves any client and resumes any session.

The parent prints ``listening on http://HOST:PORT`` once every worker accepts connections. It
supervises them: a worker that dies is started again (at most :data:`MAX_RESTARTS` times a
minute, after which the parent stops the others and exits 1); on SIGTERM or SIGINT it sends
SIGTERM to every worker, waits for them (SIGKILL after ``grace`` seconds) and exits. Each
worker asks the kernel for SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), so a killed
parent leaves no worker behind. Secrets reach the workers through the spawn pipe, never argv.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from multiprocessing.context import SpawnProcess
from typing import Any

from .config import ServerConfig

__all__ = ["MAX_RESTARTS", "die_with_parent", "serve_workers"]

logger = logging.getLogger(__name__)

MAX_RESTARTS = 5
"""Worker restarts allowed within a minute before the parent gives up."""

_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT = 60.0


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux; else no-op)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _worker(config: ServerConfig, log_level: str, ready: Any) -> None:
    """Run one worker: a server instance on the shared port; tell the parent when it listens."""
    die_with_parent()
    from .logs import LOG_FORMAT, LogLineFormatter
    from .runner import run_server

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogLineFormatter(LOG_FORMAT))
    logging.basicConfig(level=log_level, handlers=[handler])

    def on_ready(port: int) -> None:
        ready.send(port)
        ready.close()

    asyncio.run(run_server(config, announce=False, reuse_port=True, on_ready=on_ready))


async def _settle(config: ServerConfig) -> tuple[str, str | None, bool]:
    """Store the credentials and the signing secret once; return what the workers will use."""
    from .app import create_app, ensure_credentials
    from .state import STATE

    state = create_app(config)[STATE]
    await state.store.open()
    try:
        await ensure_credentials(state)
    finally:
        await state.store.close()
    return state.project_id, state.project_token, state.generated_credentials


def _reserve_port(host: str) -> socket.socket:
    """Bind (without listening) a ``SO_REUSEPORT`` socket on a free port of ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


class _Supervisor:
    def __init__(self, config: ServerConfig, workers: int, log_level: str, grace: float) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._config = config
        self._log_level = log_level
        self._grace = grace
        self._slots: list[SpawnProcess | None] = [None] * workers
        self._restarts: list[float] = []
        self.stopping = False

    def start(self, index: int) -> multiprocessing.connection.Connection:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker,
            args=(self._config, self._log_level, sender),
            name=f"fabric-chat-worker-{index}",
        )
        process.start()
        sender.close()
        self._slots[index] = process
        return receiver

    def start_all(self) -> None:
        """Start every worker and wait until each listens.

        Raises:
            RuntimeError: A worker exited or did not listen in time.
        """
        pending = [self.start(index) for index in range(len(self._slots))]
        deadline = time.monotonic() + _READY_TIMEOUT
        for index, receiver in enumerate(pending):
            left = max(0.0, deadline - time.monotonic())
            try:
                if not receiver.poll(left):
                    raise RuntimeError(f"worker {index} did not start in {_READY_TIMEOUT:.0f}s")
                receiver.recv()
            except EOFError:
                raise RuntimeError(f"worker {index} exited while starting") from None
            finally:
                receiver.close()

    def watch(self) -> int:
        """Restart workers that die until asked to stop; return the exit status."""
        while not self.stopping:
            alive = [p for p in self._slots if p is not None]
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout=0.5)
            for index, process in enumerate(self._slots):
                if self.stopping or process is None or process.is_alive():
                    continue
                logger.warning(
                    "worker %d exited with %s; starting it again", index, process.exitcode
                )
                now = time.monotonic()
                self._restarts = [t for t in self._restarts if now - t < 60.0] + [now]
                if len(self._restarts) > MAX_RESTARTS:
                    logger.error("workers keep dying; stopping")
                    return 1
                self.start(index).close()  # it announces nothing; the port is known
        return 0

    def stop_all(self) -> None:
        """SIGTERM every worker; SIGKILL those still running after the grace period."""
        alive = [p for p in self._slots if p is not None and p.is_alive()]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + self._grace
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve_workers(
    config: ServerConfig, workers: int, *, log_level: str = "WARNING", grace: float = 10.0
) -> int:
    """Serve with ``workers`` processes on ``config.port`` until SIGTERM or SIGINT.

    Prints ``listening on http://HOST:PORT`` (``https`` with TLS; and credentials made by this
    run, once).

    Returns:
        The exit status: 0 after a requested stop, 1 when workers kept dying.

    Raises:
        RuntimeError: A worker did not start.
        OSError: The port cannot be bound.
    """
    project_id, project_token, generated = asyncio.run(_settle(config))
    reserved = _reserve_port(config.host) if config.port == 0 else None
    port = config.port if reserved is None else int(reserved.getsockname()[1])
    supervisor = _Supervisor(replace(config, port=port), workers, log_level, grace)

    def stop(signum: int, frame: object) -> None:
        supervisor.stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        supervisor.start_all()
        if reserved is not None:
            reserved.close()
        scheme = "https" if config.tls else "http"
        print(f"listening on {scheme}://{config.host}:{port}", flush=True)
        if generated and project_token is not None:
            print(f"project id: {project_id}", flush=True)
            print(f"project token: {project_token}", flush=True)
            print("(shown once: keep them to mint tokens)", flush=True)
        logger.info("%d workers on port %d (parent %d)", workers, port, os.getpid())
        return supervisor.watch()
    finally:
        supervisor.stop_all()
        if reserved is not None:
            reserved.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
