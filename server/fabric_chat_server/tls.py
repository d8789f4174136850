"""Serve over TLS (``fabric-chat serve --tls-cert FILE --tls-key FILE``).

A page served over https may only open ``wss://`` sockets and call ``https://`` APIs, so a
browser app using the official clients needs the server on TLS. The key file is a secret: it
is read here and nowhere else, its content never reaches an error or a log line, and a key
file that every user of the machine may read is refused (``chmod 600`` it).
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from .config import ServerConfig

__all__ = ["TlsConfigError", "server_tls_context"]


class TlsConfigError(ValueError):
    """The TLS certificate or key cannot be used; the message names the file, never its content."""


def _check_key_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise TlsConfigError(f"cannot read the TLS key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise TlsConfigError(f"the TLS key file {path} is not a regular file")
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise TlsConfigError(
            f"the TLS key file {path} may be read or written by every user; "
            f"restrict it (chmod 600 {path})"
        )


def _no_password() -> bytes:
    # An encrypted key fails to load instead of prompting on the terminal.
    return b""


def server_tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """Return the TLS context of ``config``, or ``None`` when it serves plain HTTP.

    Raises:
        TlsConfigError: Only one of certificate and key was given, the key file may be read by
            every user, or the pair cannot be loaded.
    """
    cert, key = config.tls_cert, config.tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsConfigError("give both the TLS certificate and the TLS key, or neither")
    _check_key_file(Path(key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key), password=_no_password)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"cannot read {exc.filename}: no such file") from None
    except (ssl.SSLError, OSError, ValueError):
        # The library's message may quote the files' content: say only which pair failed.
        raise TlsConfigError(
            f"cannot load the TLS certificate {cert} with the key {key}: not a PEM "
            "certificate chain and its matching private key"
        ) from None
    return context
