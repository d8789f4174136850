"""A throwaway PostgreSQL cluster from the installed binaries, for tests, demos and benchmarks.

>>> with TemporaryCluster() as cluster:                       # doctest: +SKIP
...     cluster.create_database("t1")
...     dsn = cluster.dsn_for("t1")      # postgresql://postgres@127.0.0.1:PORT/t1

The cluster lives in a temporary directory (removed on :meth:`TemporaryCluster.close`), listens
on 127.0.0.1 on a free port (kept across :meth:`~TemporaryCluster.restart`) and on a Unix socket
in its own directory, and trusts local connections (no password exists to leak). ``initdb`` and
``pg_ctl`` refuse to run as root: as root, the directory is given to the ``postgres`` user and
both run as that user (``runuser``); otherwise they run as the current user.

Only this module's own processes are stopped, through ``pg_ctl`` on its own directory.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ClusterError", "TemporaryCluster", "find_bin_dir"]

logger = logging.getLogger(__name__)

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_OWNER = "postgres"


class ClusterError(RuntimeError):
    """A PostgreSQL tool failed; the message holds its output (never a secret: none exist)."""


def find_bin_dir() -> Path:
    """Return the directory of the newest installed PostgreSQL's binaries.

    ``FABRIC_CHAT_PG_BIN`` names one explicitly; otherwise the newest
    ``/usr/lib/postgresql/N/bin`` holding ``initdb``, then ``initdb`` on ``PATH``.

    Raises:
        ClusterError: No PostgreSQL is installed.
    """
    chosen = os.environ.get("FABRIC_CHAT_PG_BIN")
    if chosen:
        return Path(chosen)
    found = [Path(p) for p in glob.glob(_BIN_GLOB) if (Path(p) / "initdb").exists()]
    if found:
        return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterError(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
        "apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quote_setting(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class TemporaryCluster:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 and a free port.

    Args:
        port: The TCP port; a free one when ``None`` (chosen once, kept across restarts).
        settings: Extra server settings (``-c name=value``), e.g. ``{"fsync": "off"}`` for
            tests that need no durability; benchmarks should state theirs.
        bin_dir: Where ``initdb``, ``pg_ctl`` and ``psql`` are; see :func:`find_bin_dir`.
        start_timeout: Seconds ``pg_ctl`` waits for the server to start or stop.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        bin_dir: Path | str | None = None,
        start_timeout: int = 60,
    ) -> None:
        self.bin_dir = Path(bin_dir) if bin_dir is not None else find_bin_dir()
        self._pick_port = port is None
        self.port = port if port is not None else _free_port()
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self._as_owner = os.geteuid() == 0
        self._tmp: str | None = None
        self._data: Path | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"TemporaryCluster(port={self.port}, running={self._running})"

    # Where it is.

    @property
    def data_dir(self) -> Path:
        """The cluster's directory (also its Unix socket directory)."""
        if self._data is None:
            raise ClusterError("the cluster was never started")
        return self._data

    @property
    def running(self) -> bool:
        """Whether the server was started and not stopped since (by this object)."""
        return self._running

    @property
    def dsn(self) -> str:
        """The DSN of the ``postgres`` database: ``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        """Return the DSN of ``database`` on this cluster (user ``postgres``, no password)."""
        return f"postgresql://{_OWNER}@127.0.0.1:{self.port}/{database}"

    # Life cycle.

    def start(self) -> None:
        """Create the cluster on first use, then start the server and wait until it accepts."""
        if self._running:
            return
        if self._data is None:
            self._init()
        for attempt in range(3):
            try:
                self._start()
            except ClusterError:
                # A port chosen free may have been taken since: choose again (bounded).
                if not self._pick_port or attempt == 2:
                    raise
                self.port = _free_port()
            else:
                self._pick_port = False  # a restart keeps the port the clients know
                break
        self._running = True
        logger.debug("PostgreSQL started on 127.0.0.1:%d", self.port)

    def _start(self) -> None:
        options = [f"-k {self.data_dir}", "-c listen_addresses=127.0.0.1", f"-p {self.port}"]
        options += [f"-c {name}={_quote_setting(value)}" for name, value in self.settings.items()]
        self._tool(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            " ".join(options),
            "-t",
            str(self.start_timeout),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m MODE``: ``smart``, ``fast`` or ``immediate``).

        The data stays: :meth:`start` brings the same cluster back on the same port.
        """
        if not self._running:
            return
        self._tool(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-m",
            mode,
            "-t",
            str(self.start_timeout),
            "-w",
            "stop",
        )
        self._running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop the server and start it again on the same port and data."""
        self.stop(mode)
        self.start()

    def close(self) -> None:
        """Stop the server (when running) and remove the cluster's directory (idempotent)."""
        try:
            self.stop("immediate")
        finally:
            tmp, self._tmp, self._data = self._tmp, None, None
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Databases.

    def sql(self, statement: str, *, database: str = "postgres") -> str:
        """Run one SQL statement with ``psql`` and return its unaligned output."""
        return self._tool(
            "psql",
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-U",
            _OWNER,
            "-d",
            database,
            "-c",
            statement,
            as_owner=False,
        )

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create database ``name`` (from ``template`` when given); return its DSN.

        Names are plain lowercase identifiers (checked), so nothing needs quoting.
        """
        for checked in (name, template):
            if checked is not None and not _NAME.match(checked):
                raise ValueError(f"not a plain database name: {checked!r}")
        statement = f"CREATE DATABASE {name}"
        if template is not None:
            statement += f" TEMPLATE {template}"
        self.sql(statement)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, closing its connections first (no error when missing)."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    # Internals.

    def _init(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="fabric-chat-pg-")
        data = Path(self._tmp) / "data"
        data.mkdir(mode=0o700)
        if self._as_owner:
            # The owner must reach its directory through ours: traverse only, no listing.
            os.chmod(self._tmp, 0o711)
            shutil.chown(data, _OWNER, _OWNER)
        self._data = data
        self._tool(
            "initdb",
            "-D",
            str(data),
            "-U",
            _OWNER,
            "-A",
            "trust",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def _tool(self, name: str, *args: str, as_owner: bool = True) -> str:
        command: Sequence[str] = [str(self.bin_dir / name), *args]
        if as_owner and self._as_owner:
            command = ["runuser", "-u", _OWNER, "--", *command]
        done = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self._tmp or None,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stdout.strip()[-2000:]
            log = self._log_tail() if name == "pg_ctl" else ""
            raise ClusterError(f"{name} {args[-1]} failed ({done.returncode}): {tail}{log}")
        return done.stdout

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError, ClusterError):
            text = (self.data_dir / "server.log").read_text(errors="replace")
            return "\nserver.log: " + text[-2000:]
        return ""
