"""A throwaway TLS certificate for tests, made with the system's ``openssl``.

One self-signed certificate (``CA:TRUE``, so a client may trust it directly) for the names a
test serves: ``127.0.0.1``, ``chat.test`` and ``*.chat.test`` by default. The key is written
with mode 0600 in the test's own temporary directory and never read back by the test.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Certificate", "make_certificate"]

DEFAULT_NAMES = ("127.0.0.1", "chat.test", "*.chat.test")


@dataclass(frozen=True)
class Certificate:
    """A certificate file, its key file, and a client context that trusts it."""

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """Return a client TLS context that trusts this certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cert))

    def spki_sha256(self) -> str:
        """Return the base64 SHA-256 of the public key (Chromium's ``--ignore-...-spki-list``)."""
        der = base64.b64decode(
            "".join(
                line
                for line in _openssl(
                    "x509", "-pubkey", "-noout", "-in", str(self.cert)
                ).splitlines()
                if not line.startswith("-----")
            )
        )
        return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _openssl(*args: str) -> str:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed: apt-get install -y openssl"
    done = subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)
    return done.stdout.decode()


def _subject_alt_names(names: tuple[str, ...]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            entries.append(f"DNS:{name}")
        else:
            entries.append(f"IP:{name}")
    return ",".join(entries)


def make_certificate(directory: Path, names: tuple[str, ...] = DEFAULT_NAMES) -> Certificate:
    """Write ``cert.pem`` and ``key.pem`` (mode 0600) into ``directory`` and return them."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    key.touch(mode=0o600)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", "/CN=fabric-chat test",
        "-addext", f"subjectAltName={_subject_alt_names(names)}",
        "-addext", "basicConstraints=critical,CA:TRUE",
    )  # fmt: skip
    key.chmod(0o600)
    return Certificate(cert=cert, key=key)
