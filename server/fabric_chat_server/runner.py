"""Run the chat server in this process until SIGINT or SIGTERM (``fabric-chat serve``, bench)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from .app import create_app
from .config import ServerConfig
from .state import STATE
from .tls import server_tls_context

__all__ = ["run_server"]

logger = logging.getLogger(__name__)


async def run_server(
    config: ServerConfig,
    *,
    announce: bool = True,
    reuse_port: bool = False,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve ``config`` until SIGINT or SIGTERM, then stop cleanly.

    The first stdout line is ``listening on http://HOST:PORT`` (``https`` with TLS); a project
    credential pair made by this run follows, printed this once.

    Args:
        config: The settings.
        announce: Print the ``listening on`` line (and new credentials).
        reuse_port: Bind with ``SO_REUSEPORT``, so that several processes share the port
            (``fabric-chat serve --workers N``).
        on_ready: Called with the bound port once the server accepts connections.
    """
    tls = server_tls_context(config)  # a bad certificate or key stops here, before binding
    app = create_app(config)
    runner = web.AppRunner(
        app, shutdown_timeout=0.5, handle_signals=False, keepalive_timeout=config.header_timeout
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()
        site = web.TCPSite(
            runner, config.host, config.port, reuse_port=reuse_port or None, ssl_context=tls
        )
        await site.start()
        port = int(runner.addresses[0][1])
        if on_ready is not None:
            on_ready(port)
        if announce:
            scheme = "https" if config.tls else "http"
            print(f"listening on {scheme}://{config.host}:{port}", flush=True)
            state = app[STATE]
            if state.generated_credentials and state.project_token is not None:
                print(f"project id: {state.project_id}", flush=True)
                print(f"project token: {state.project_token}", flush=True)
                print("(shown once: keep them to mint tokens)", flush=True)
        await stop.wait()
        logger.info("stopping")
    finally:
        try:
            await runner.cleanup()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
