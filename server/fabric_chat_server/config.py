"""Settings of one server instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerConfig"]


@dataclass(slots=True)
class ServerConfig:
    """Everything a server instance needs to run.

    Secrets (``project_token``, ``jwt_secret``) are left out of the ``repr``.

    Attributes:
        host: Interface to bind.
        port: TCP port to bind; ``0`` picks a free one.
        db_path: SQLite database file.
        public_url: Public WebSocket URL written into each token's ``ch`` header;
            ``None`` means ``ws://HOST:PORT`` of the bound socket (with ``port=0``, the port
            actually bound), never the request's ``Host`` header.
        project_id: Id of the project this server serves; ``None`` reuses the stored one or
            makes one.
        project_token: API token of that project (HTTP Basic password); ``None`` reuses the
            stored one or makes one.
        jwt_secret: Secret that signs tokens and page tokens; ``None`` reuses the stored one
            or makes one.
        ping_interval: Seconds between server pings on each socket.
        resume_window: Seconds a dropped socket's session stays resumable.
        max_text_bytes: Largest message text, in UTF-8 bytes.
        max_body_bytes: Largest HTTP request body, in bytes.
        max_frame_bytes: Largest WebSocket frame accepted, in bytes.
        token_ttl: Lifetime of a minted token, in seconds.
        rate_limit_per_second: Sustained requests per second per caller; ``0`` disables.
        rate_limit_burst: Requests a caller may make at once before being limited.
        send_queue_size: Frames buffered per socket before it counts as too slow and is dropped.
        max_unacked_events: Un-acked events kept per session for resume.
        disconnect_timeout: Seconds to wait for a client's answer to ``signalwire.disconnect``.
    """

    host: str = "127.0.0.1"
    port: int = 8787
    db_path: Path = field(default_factory=lambda: Path("fabric-chat.db"))
    public_url: str | None = None
    project_id: str | None = None
    project_token: str | None = field(default=None, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    ping_interval: float = 10.0
    resume_window: float = 120.0
    max_text_bytes: int = 64 * 1024
    max_body_bytes: int = 256 * 1024
    max_frame_bytes: int = 256 * 1024
    token_ttl: float = 24 * 3600.0
    rate_limit_per_second: float = 200.0
    rate_limit_burst: int = 400
    send_queue_size: int = 1024
    max_unacked_events: int = 10_000
    disconnect_timeout: float = 0.3
