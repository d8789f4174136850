"""``fabric-chat serve``: run the chat server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click
from fabric_chat.contract import LIMITS
from fabric_chat_server._extras import MissingExtraError, require_extra
from fabric_chat_server.config import ServerConfig
from fabric_chat_server.logs import LOG_FORMAT, LogLineFormatter

from ._connection import OneLineCommand

__all__ = ["COMMANDS", "serve"]

_DEFAULTS = ServerConfig()


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
    "database",
    envvar="FABRIC_CHAT_DB",
    default="fabric-chat.db",
    show_default=True,
    help="SQLite database file (or sqlite:///PATH), or a PostgreSQL database: "
    "postgresql://USER@HOST:PORT/DB (password from PGPASSWORD or ~/.pgpass, not argv; or put "
    "the whole URL in FABRIC_CHAT_DB).",
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
    help="Project API token; prefer the FABRIC_CHAT_PROJECT_TOKEN variable or "
    "--project-token-file (argv shows in ps).",
)
@click.option(
    "--project-token-file",
    envvar="FABRIC_CHAT_PROJECT_TOKEN_FILE",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the project API token (its first line).",
)
@click.option(
    "--signing-secret-file",
    envvar="FABRIC_CHAT_SIGNING_SECRET_FILE",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the secret that signs tokens (default: one kept in the 0600 database; "
    "or the FABRIC_CHAT_SIGNING_SECRET variable).",
)
@click.option(
    "--public-origin",
    default=None,
    help="Origin of absolute page links, e.g. https://chat.example.com (default: from "
    "--public-url, or http://HOST:PORT as bound; never the request's Host).",
)
@click.option(
    "--max-token-lifetime",
    default=float(LIMITS.token_lifetime),
    show_default=True,
    type=click.FloatRange(min=1, max=float(LIMITS.token_lifetime)),
    help="The longest a minted token may live, in seconds.",
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
    "--max-replay",
    "max_replay_events",
    default=_DEFAULTS.max_replay_events,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most missed events a resume replays; further behind, the client starts fresh.",
)
@click.option(
    "--max-sockets",
    "max_sockets_per_subscriber",
    default=_DEFAULTS.max_sockets_per_subscriber,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open WebSockets per subscriber.",
)
@click.option(
    "--max-sessions",
    "max_sessions_per_subscriber",
    default=_DEFAULTS.max_sessions_per_subscriber,
    show_default=True,
    type=click.IntRange(min=1),
    help="Sessions (open or resumable) kept per subscriber; the least recently seen go first.",
)
@click.option(
    "--connect-rate",
    "connects_per_second",
    default=_DEFAULTS.connects_per_second,
    show_default=True,
    type=click.FloatRange(min=0),
    help="WebSocket connects per second per subscriber (burst: --connect-burst), ten times "
    "that per client address; 0 turns both off.",
)
@click.option(
    "--connect-burst",
    default=_DEFAULTS.connect_burst,
    show_default=True,
    type=click.IntRange(min=1),
    help="WebSocket connects one subscriber may make at once (ten times that per address).",
)
@click.option(
    "--auth-timeout",
    default=_DEFAULTS.auth_timeout,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds a WebSocket may stay open before completing signalwire.connect.",
)
@click.option(
    "--header-timeout",
    default=_DEFAULTS.header_timeout,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds an HTTP connection may take to send its request headers (or stay idle).",
)
@click.option(
    "--stall-timeout",
    default=_DEFAULTS.stall_timeout,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds a socket that does not read is kept before it is dropped.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=256),
    help="Server processes sharing the port (SO_REUSEPORT); more than 1 needs "
    "--db postgresql://...",
)
@click.option(
    "--tls-cert",
    envvar="FABRIC_CHAT_TLS_CERT",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM certificate chain: serve HTTPS and WSS (with --tls-key). Pages served over "
    "https can only reach a TLS server.",
)
@click.option(
    "--tls-key",
    envvar="FABRIC_CHAT_TLS_KEY",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM private key of --tls-cert; a key file every user may read is refused.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    default=("*",),
    show_default=True,
    help="Origin whose pages may call the subscriber API from a browser (repeatable): * (any "
    "page; bearer tokens are never sent on their own), https://app.example.com, or none.",
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
    database: str,
    public_url: str | None,
    project_id: str | None,
    project_token: str | None,
    project_token_file: Path | None,
    signing_secret_file: Path | None,
    public_origin: str | None,
    max_token_lifetime: float,
    ping_interval: float,
    resume_window: float,
    rate_limit: float,
    max_replay_events: int,
    max_sockets_per_subscriber: int,
    max_sessions_per_subscriber: int,
    connects_per_second: float,
    connect_burst: int,
    auth_timeout: float,
    header_timeout: float,
    stall_timeout: float,
    workers: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    cors_origins: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the local chat server (REST and WebSocket on one origin)."""
    if project_token_file is not None:
        if project_token is not None:
            raise click.UsageError("give --project-token or --project-token-file, not both")
        project_token = _secret_from_file(project_token_file, "--project-token-file")
    signing_secret = os.environ.get("FABRIC_CHAT_SIGNING_SECRET") or None
    if signing_secret_file is not None:
        signing_secret = _secret_from_file(signing_secret_file, "--signing-secret-file")
    if (project_id is None) != (project_token is None):
        raise click.UsageError("give both --project-id and --project-token, or neither")
    db_path, database_url = _database(database)
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("give both --tls-cert and --tls-key, or neither")
    cors_origins = () if cors_origins == ("none",) else cors_origins
    if workers > 1 and database_url is None:
        raise click.UsageError(
            "--workers above 1 needs --db postgresql://...: a SQLite file has one writer"
        )
    try:
        require_extra("server", "fabric-chat serve")
        if database_url is not None:
            require_extra("postgres", "fabric-chat serve --db postgresql://...")
    except MissingExtraError as exc:
        raise click.ClickException(str(exc)) from None
    # The server's modules need the server extra (checked above): imported only now.
    from fabric_chat_server.cors import check_origins
    from fabric_chat_server.runner import run_server
    from fabric_chat_server.tls import TlsConfigError, server_tls_context
    from fabric_chat_server.workers import serve_workers

    try:
        check_origins(cors_origins)
    except ValueError as exc:
        raise click.UsageError(f"--cors-origin: {exc}") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogLineFormatter(LOG_FORMAT))
    logging.basicConfig(level=log_level, handlers=[handler])
    config = ServerConfig(
        host=host,
        port=port,
        db_path=db_path,
        database_url=database_url,
        public_url=public_url,
        project_id=project_id,
        project_token=project_token,
        jwt_secret=signing_secret,
        public_origin=public_origin,
        max_token_lifetime=max_token_lifetime,
        ping_interval=ping_interval,
        resume_window=resume_window,
        rate_limit_per_second=rate_limit,
        rate_limit_burst=max(1, int(rate_limit * 2)),
        max_replay_events=max_replay_events,
        max_sockets_per_subscriber=max_sockets_per_subscriber,
        max_sessions_per_subscriber=max_sessions_per_subscriber,
        connects_per_second=connects_per_second,
        connect_burst=connect_burst,
        auth_timeout=auth_timeout,
        header_timeout=header_timeout,
        stall_timeout=stall_timeout,
        tls_cert=tls_cert,
        tls_key=tls_key,
        cors_origins=cors_origins,
    )
    try:
        server_tls_context(config)  # a bad certificate or key stops here, before anything starts
    except TlsConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if workers > 1:
            try:
                status = serve_workers(config, workers, log_level=log_level)
            except RuntimeError as exc:  # a worker did not start
                raise click.ClickException(str(exc)) from None
            sys.exit(status)
        asyncio.run(run_server(config))
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {exc.strerror or exc}"
        ) from None


def _database(database: str) -> tuple[Path, str | None]:
    """Return the SQLite path and the PostgreSQL DSN ``--db`` names (one of them is used).

    Raises:
        click.UsageError: ``--db`` is empty or a URL of another database.
    """
    if database.startswith(("postgresql://", "postgres://")):
        return _DEFAULTS.db_path, database
    if database.startswith("sqlite://"):
        # As SQLAlchemy spells them: sqlite:///relative.db and sqlite:////absolute.db.
        database = database.removeprefix("sqlite://")
        database = database[1:] if database.startswith("/") else database
    elif "://" in database:
        scheme = database.split("://", 1)[0]
        raise click.UsageError(f"--db: unknown database URL scheme {scheme[:20]!r}")
    if not database:
        raise click.UsageError("--db: no database file named")
    return Path(database), None


def _secret_from_file(path: Path, option: str) -> str:
    """Return the first line of a secret file (never echoed back in an error).

    Raises:
        click.UsageError: The file cannot be read or its first line is empty.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        raise click.UsageError(f"{option}: cannot read {path}") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise click.UsageError(f"{option}: {path} is empty")
    return secret


COMMANDS = (serve,)
