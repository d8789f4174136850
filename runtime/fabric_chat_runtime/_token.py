"""Read a SAT's header (never its claims) and derive the service URLs from its ``ch``."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

from .errors import InvalidArgumentError

__all__ = ["Endpoints", "derive_endpoints", "read_channel"]

DEFAULT_HOST = "relay.signalwire.com"


class _Header(msgspec.Struct):
    ch: str | None = None
    typ: str | None = None


_decode_header = msgspec.json.Decoder(_Header).decode


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where one client talks HTTP and where it opens its socket."""

    base_url: str
    ws_url: str


def read_channel(token: str) -> str | None:
    """Return the ``ch`` of the token's JWT header, or ``None`` when it has none.

    Only the header is base64url-decoded; the signature is the server's business.

    Raises:
        InvalidArgumentError: The token is not a JWT with a JSON header.
    """
    head = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        return _decode_header(raw).ch
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidArgumentError("token is not a JWT with a readable header") from None


def _ws_from_channel(channel: str) -> str:
    if channel.startswith(("ws://", "wss://")):
        return channel
    return "wss://" + channel.strip("/")


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _http_from_ws(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    host = parts.hostname or DEFAULT_HOST
    scheme = "http" if parts.scheme == "ws" else "https"
    if parts.port is not None or _is_local(host):
        return f"{scheme}://{parts.netloc}"
    labels = host.split(".")
    rest = ".".join(labels[1:]) if len(labels) > 2 else host
    return f"https://fabric.{rest}"


def derive_endpoints(token: str, *, base_url: str | None, ws_url: str | None) -> Endpoints:
    """Return the HTTP base URL and WebSocket URL, taking explicit ones first.

    Args:
        token: The SAT; its header's ``ch`` fills in whatever is not given.
        base_url: An explicit HTTP base URL, e.g. ``http://127.0.0.1:8787``.
        ws_url: An explicit WebSocket URL, e.g. ``ws://127.0.0.1:8787``.

    Raises:
        InvalidArgumentError: A URL is needed and the token does not say it.
    """
    if base_url is not None and ws_url is not None:
        return Endpoints(base_url.rstrip("/"), ws_url)
    channel = read_channel(token) or DEFAULT_HOST
    socket = ws_url if ws_url is not None else _ws_from_channel(channel)
    http = base_url if base_url is not None else _http_from_ws(_ws_from_channel(channel))
    return Endpoints(http.rstrip("/"), socket)
