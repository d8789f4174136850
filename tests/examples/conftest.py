"""Fixtures for the examples' tests: a local server in this loop, and example subprocesses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fabric_chat_server.testing import LocalServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def clean_env(**extra: str) -> dict[str, str]:
    """Return this environment without any FABRIC_CHAT_* variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FABRIC_CHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Example:
    """One example script running as a subprocess, read line by line."""

    process: asyncio.subprocess.Process

    async def line(self, stream: str = "stdout", *, seconds: float = 15.0) -> str:
        """Return the next line of ``stream``; fail on end of output or after ``seconds``."""
        reader = self.process.stdout if stream == "stdout" else self.process.stderr
        assert reader is not None
        async with asyncio.timeout(seconds):
            raw = await reader.readline()
        assert raw, f"the example closed its {stream} early"
        return raw.decode().rstrip("\n")

    async def wait_for(self, needle: str, stream: str = "stdout", *, seconds: float = 15.0) -> str:
        """Read ``stream`` until a line contains ``needle``; return that line."""
        async with asyncio.timeout(seconds):
            while needle not in (line := await self.line(stream, seconds=seconds)):
                pass
        return line

    async def write(self, text: str) -> None:
        """Write ``text`` to the example's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        await self.process.stdin.drain()

    async def finish(self, *, seconds: float = 20.0) -> tuple[int, str, str]:
        """Close stdin, wait for the exit, return (status, rest of stdout, rest of stderr)."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        async with asyncio.timeout(seconds):
            out, err = await self.process.communicate()
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()


RunExample = Callable[..., Awaitable[Example]]


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    """A local chat server on 127.0.0.1, a free port and a temporary database."""
    async with LocalServer() as local:
        yield local


@pytest.fixture
async def run_example() -> AsyncIterator[RunExample]:
    """Start ``examples/<name>`` with arguments; every one still running is killed at the end."""
    started: list[Example] = []

    async def start(name: str, *args: str, env: dict[str, str] | None = None) -> Example:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / name),
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or clean_env(),
        )
        example = Example(process)
        started.append(example)
        return example

    yield start
    for example in started:
        if example.process.returncode is None:
            example.process.kill()
        await example.process.communicate()
