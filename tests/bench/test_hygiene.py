"""The benchmark's server processes: no secret in their argv, and none outlives a killed bench."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import asyncio, sys, tempfile
from pathlib import Path
from bench._server import BenchServer

async def main():
    with tempfile.TemporaryDirectory() as tmp:
        server = BenchServer(Path(tmp), project_token="PT-secret-token", jwt_secret="sign-secret")
        await server.start()
        print(server.pid, flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_no_secret_in_argv_and_the_server_dies_with_the_bench() -> None:
    bench = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert bench.stdout is not None
        server_pid = int(bench.stdout.readline())
        argv = Path(f"/proc/{server_pid}/cmdline").read_bytes().split(b"\0")
        assert b"bench._serve" in argv
        assert not any(b"secret" in arg for arg in argv), argv
        environ = Path(f"/proc/{server_pid}/environ").read_bytes()
        assert b"FABRIC_CHAT_PROJECT_TOKEN=PT-secret-token" in environ
        os.kill(bench.pid, signal.SIGKILL)  # no cleanup code runs in the bench
        bench.wait(timeout=10)
        for _ in range(100):
            if not _alive(server_pid):
                break
            time.sleep(0.1)
        assert not _alive(server_pid), "the server outlived the killed bench"
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        assert bench.stdout is not None
        bench.stdout.close()
