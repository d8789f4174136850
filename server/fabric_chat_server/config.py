"""Settings of one server instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fabric_chat.contract import LIMITS

__all__ = ["ADDRESS_FACTOR", "ServerConfig"]

ADDRESS_FACTOR = 10
"""One client address may connect this many times as often as one subscriber (many users)."""


@dataclass(slots=True)
class ServerConfig:
    """Everything a server instance needs to run.

    Secrets (``project_token``, ``jwt_secret``) are left out of the ``repr``.

    Attributes:
        host: Interface to bind.
        port: TCP port to bind; ``0`` picks a free one.
        db_path: SQLite database file (when ``database_url`` is not set).
        database_url: A PostgreSQL DSN (``postgresql://USER@HOST/DB``): the store is then
            PostgreSQL, shared by every instance given the same DSN. Left out of the ``repr``
            (it may hold a password).
        public_url: Public WebSocket URL written into each token's ``ch`` header;
            ``None`` means ``ws://HOST:PORT`` of the bound socket (with ``port=0``, the port
            actually bound), never the request's ``Host`` header.
        public_origin: Origin (``https://chat.example.com``) of the absolute links in pages;
            ``None`` derives it from ``public_url`` (``ws`` as ``http``), or from the bound
            socket. Never the request's ``Host`` header.
        project_id: Id of the project this server serves; ``None`` reuses the stored one or
            makes one.
        project_token: API token of that project (HTTP Basic password); ``None`` reuses the
            stored one or makes one.
        jwt_secret: Secret that signs tokens and page tokens; ``None`` reuses the stored one
            or makes one.
        ping_interval: Seconds between server pings on each socket.
        resume_window: Seconds a session stays resumable after its last socket closed (kept in
            the store, so a restart within the window keeps it).
        idempotency_key_ttl: Seconds an ``Idempotency-Key`` makes a retried send replay its
            first message; older keys are deleted (a send retried later makes a new message).
        max_text_bytes: Largest message text, in UTF-8 bytes (the spec's ``text_bytes``;
            an operator may lower it).
        max_body_bytes: Largest HTTP request body, in bytes (the spec's ``body_bytes``).
        max_frame_bytes: Largest WebSocket frame accepted, in bytes (the spec's
            ``body_bytes``).
        token_ttl: Lifetime of a minted token, in seconds.
        max_token_lifetime: The longest a token may live, in seconds (at most the spec's
            ``token_lifetime``): a later ``expire_at`` is brought back to it, and a token
            that would live longer is refused.
        rate_limit_per_second: Sustained requests per second per caller; ``0`` disables.
        rate_limit_burst: Requests a caller may make at once before being limited.
        send_queue_size: Frames buffered per socket; beyond it, events are read back from the
            store as the socket drains.
        max_replay_events: Most un-acked events a resume replays; a session further behind is
            refused (``-32003``) and its client connects fresh and backfills from history.
        replay_batch: Events read from the store at a time when a socket catches up.
        stall_timeout: Seconds a socket's full queue may go without room before the socket is
            dropped as not reading.
        max_sockets_per_subscriber: Open WebSockets one subscriber may hold.
        max_sessions_per_subscriber: Sessions (open or resumable) kept per subscriber; a new one
            beyond it forgets the least recently seen.
        connects_per_second: WebSocket connects allowed per second per subscriber (burst:
            ``connect_burst``), and :data:`ADDRESS_FACTOR` times that per client address;
            ``0`` disables both.
        connect_burst: WebSocket connects one subscriber may make at once.
        auth_timeout: Seconds a socket may stay open without completing ``signalwire.connect``.
        header_timeout: Seconds an HTTP connection may take to send a request's headers (and
            may stay idle between requests).
        positions_save_interval: Seconds between saves of acked positions to the store.
        disconnect_timeout: Seconds to wait for a client's answer to ``signalwire.disconnect``.
        tls_cert: PEM certificate chain: serve HTTPS and WSS (with ``tls_key``); ``None``
            serves plain HTTP and WS.
        tls_key: PEM private key of ``tls_cert`` (a file no other user may read).
        cors_origins: Origins whose pages may call the subscriber API (the bearer-token
            routes) from a browser: ``("*",)`` (any page: the token is never sent on its
            own, so no page can act as a user without holding that user's token), a list of
            exact origins (``https://app.example.com``), or ``()`` for no CORS at all.
    """

    host: str = "127.0.0.1"
    port: int = 8787
    db_path: Path = field(default_factory=lambda: Path("fabric-chat.db"))
    database_url: str | None = field(default=None, repr=False)
    public_url: str | None = None
    public_origin: str | None = None
    project_id: str | None = None
    project_token: str | None = field(default=None, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    ping_interval: float = 10.0
    resume_window: float = 120.0
    idempotency_key_ttl: float = 24 * 3600.0
    max_text_bytes: int = LIMITS.text_bytes
    max_body_bytes: int = LIMITS.body_bytes
    max_frame_bytes: int = LIMITS.body_bytes
    token_ttl: float = 24 * 3600.0
    max_token_lifetime: float = float(LIMITS.token_lifetime)
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    send_queue_size: int = 1024
    max_replay_events: int = 100_000
    replay_batch: int = 256
    stall_timeout: float = 10.0
    max_sockets_per_subscriber: int = 32
    max_sessions_per_subscriber: int = 64
    connects_per_second: float = 5.0
    connect_burst: int = 20
    auth_timeout: float = 10.0
    header_timeout: float = 15.0
    positions_save_interval: float = 0.5
    disconnect_timeout: float = 0.3
    tls_cert: Path | None = None
    tls_key: Path | None = None
    cors_origins: tuple[str, ...] = ("*",)

    @property
    def tls(self) -> bool:
        """Whether the server serves HTTPS and WSS."""
        return self.tls_cert is not None
