"""Fixtures for the CLI tests: ``fabric-chat serve`` in a subprocess, and a way to run commands.

The server is the real console script, started as ``fabric-chat serve --port 0 --db TMP``; its
first stdout line says where it listens. Tokens are minted with ``fabric-chat token``.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

FABRIC_CHAT = Path(sys.executable).with_name("fabric-chat")
PROJECT_ID = "cli-test-project"
PROJECT_TOKEN = "cli-test-project-secret"
_LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)$")


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without any FABRIC_CHAT_* variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FABRIC_CHAT_")}
    env["COLUMNS"] = "120"
    env.update(extra)
    return env


class LineReader:
    """Reads a subprocess stream in a thread, so a test can wait for a line with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next_line(self, timeout: float = 15.0) -> str:
        """Return the next line; fail at end of stream or after ``timeout`` seconds."""
        line = self._queue.get(timeout=timeout)
        assert line is not None, "the stream ended early"
        self.lines.append(line)
        return line

    def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        """Return the first line containing ``needle`` (each wait bounded by ``timeout``)."""
        for _ in range(1000):
            line = self.next_line(timeout)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r}")

    def rest(self, timeout: float = 15.0) -> str:
        """Return every remaining line once the stream ends."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the stream did not end"
        rest: list[str] = []
        while (line := self._queue.get_nowait()) is not None:
            rest.append(line)
        self.lines.extend(rest)
        return "\n".join(rest)


class Running:
    """A ``fabric-chat`` subprocess with its stdout and stderr read line by line."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(FABRIC_CHAT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = LineReader(self.process.stdout)
        self.stderr = LineReader(self.process.stderr)

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        """Send ``sig`` (Ctrl-C by default) and return the exit status."""
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(15)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass(frozen=True)
class Result:
    """What one finished command did."""

    status: int
    out: str
    err: str


@dataclass(frozen=True)
class Server:
    """The running ``fabric-chat serve`` and the accounts made on it."""

    url: str
    tokens: dict[str, str]
    addresses: dict[str, str]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> Result:
    """Run ``fabric-chat ARGS`` to completion and return its status and output."""
    done = subprocess.run(
        [str(FABRIC_CHAT), *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def mint(url: str, reference: str) -> str:
    """Mint a token with ``fabric-chat token`` and return it."""
    result = cli(
        "token",
        reference,
        "--display-name",
        reference.title(),
        "--server",
        url,
        env=clean_env(FABRIC_CHAT_PROJECT_ID=PROJECT_ID, FABRIC_CHAT_PROJECT_TOKEN=PROJECT_TOKEN),
    )
    assert result.status == 0, result.err
    return result.out.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``fabric-chat serve --port 0 --db TMP`` for the module, with alice and bob signed up."""
    assert FABRIC_CHAT.exists(), f"{FABRIC_CHAT} is missing: pip install -e '.[server]'"
    db = tmp_path_factory.mktemp("cli") / "chat.db"
    serve = Running(
        "serve",
        "--port",
        "0",
        "--db",
        str(db),
        "--project-id",
        PROJECT_ID,
        "--project-token",
        PROJECT_TOKEN,
        env=clean_env(),
    )
    try:
        first = serve.stdout.next_line(timeout=20)
        match = _LISTENING.match(first)
        assert match is not None, f"unexpected first line: {first!r}"
        url = match.group(1)
        tokens = {name: mint(url, name) for name in ("alice", "bob")}
        addresses = {
            name: cli("whoami", "--address", env=clean_env(FABRIC_CHAT_TOKEN=token)).out.strip()
            for name, token in tokens.items()
        }
        yield Server(url, tokens, addresses)
        assert serve.interrupt() == 0
    finally:
        serve.close()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """A list to put long-running commands in; each is killed at the end of the test."""
    started: list[Running] = []
    yield started
    for process in started:
        process.close()
