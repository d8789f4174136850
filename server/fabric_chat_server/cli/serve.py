"""``fabric-chat serve``: run the chat server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click
from aiohttp import web

from .._extras import MissingExtraError, require_extra
from ..config import ServerConfig
from ._connection import OneLineCommand

__all__ = ["COMMANDS", "serve"]

logger = logging.getLogger(__name__)


async def run_server(config: ServerConfig, *, announce: bool = True) -> None:
    """Serve ``config`` until SIGINT or SIGTERM, then stop cleanly.

    The first stdout line is ``listening on http://HOST:PORT``; a project credential pair made by
    this run follows, printed this once.
    """
    # Imported here: the command line without the server extra still lists ``serve``.
    from ..app import create_app
    from ..state import STATE

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
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        port = int(runner.addresses[0][1])
        if announce:
            print(f"listening on http://{config.host}:{port}", flush=True)
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


@click.command(cls=OneLineCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8787,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port; 0 picks a free one.",
)
@click.option(
    "--db",
    "db_path",
    default="fabric-chat.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite database file.",
)
@click.option(
    "--public-url",
    default=None,
    help="Public WebSocket URL written into tokens (default: ws://HOST:PORT as bound).",
)
@click.option("--project-id", envvar="FABRIC_CHAT_PROJECT_ID", default=None, help="Project id.")
@click.option(
    "--project-token",
    envvar="FABRIC_CHAT_PROJECT_TOKEN",
    default=None,
    help="Project API token.",
)
@click.option(
    "--ping-interval",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds between server pings.",
)
@click.option(
    "--resume-window",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a dropped session stays resumable.",
)
@click.option(
    "--rate-limit",
    default=200.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Requests per second each caller may sustain (burst: twice that); 0 turns it off.",
)
@click.option(
    "--log-level",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
def serve(
    host: str,
    port: int,
    db_path: Path,
    public_url: str | None,
    project_id: str | None,
    project_token: str | None,
    ping_interval: float,
    resume_window: float,
    rate_limit: float,
    log_level: str,
) -> None:
    """Run the local chat server (REST and WebSocket on one origin)."""
    if (project_id is None) != (project_token is None):
        raise click.UsageError("give both --project-id and --project-token, or neither")
    try:
        require_extra("server", "fabric-chat serve")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    config = ServerConfig(
        host=host,
        port=port,
        db_path=db_path,
        public_url=public_url,
        project_id=project_id,
        project_token=project_token,
        ping_interval=ping_interval,
        resume_window=resume_window,
        rate_limit_per_second=rate_limit,
        rate_limit_burst=max(1, int(rate_limit * 2)),
    )
    try:
        asyncio.run(run_server(config))
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}"
        ) from None


COMMANDS = (serve,)
