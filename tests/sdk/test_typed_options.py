"""Every client option is a typed keyword: mypy --strict rejects a misspelt one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fabric_chat
import pytest
from fabric_chat import (
    AsyncClient,
    ConnectionState,
    HeartbeatPolicy,
    ReconnectPolicy,
    RetryPolicy,
    Timeout,
)

GOOD = """\
from fabric_chat import AsyncClient, Client, ReconnectPolicy, RetryPolicy, Timeout


def make(t: str) -> AsyncClient:
    client = AsyncClient(
        token=t,
        timeout=Timeout(30.0, connect=5.0, read=10.0),
        max_retries=2,
        retry=RetryPolicy(base=0.5),
        reconnect=ReconnectPolicy(cap=5.0),
        trust_env=False,
    )
    return client.with_options(timeout=5.0, max_retries=0)


def make_sync(t: str) -> Client:
    return Client(token=t, max_retries=2).with_options(timeout=5.0)
"""

BAD = """\
from fabric_chat import AsyncClient, Client


def make(t: str) -> AsyncClient:
    return AsyncClient(token=t, retries=3)


def make_sync(t: str) -> Client:
    return Client(token=t, retries=3)
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "snippet.py"
    path.write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--no-error-summary",
         "--cache-dir", str(tmp_path / "cache"), str(path)],
        capture_output=True, text=True, check=False, timeout=300, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.slow
def test_mypy_strict_rejects_an_unknown_option_and_accepts_the_real_ones(tmp_path: Path) -> None:
    bad = _mypy(tmp_path, BAD)
    assert bad.returncode == 1
    assert 'Unexpected keyword argument "retries" for "AsyncClient"' in bad.stdout
    assert 'Unexpected keyword argument "retries" for "Client"' in bad.stdout
    good = _mypy(tmp_path, GOOD)
    assert good.returncode == 0, good.stdout


def test_help_shows_the_real_option_names_and_the_policies_are_importable() -> None:
    doc = AsyncClient.__init__.__doc__ or ""
    for name in ("token_provider", "max_retries", "retry", "reconnect", "session", "connector"):
        assert f"{name}:" in doc
    assert {"RetryPolicy", "ReconnectPolicy", "HeartbeatPolicy", "ConnectionState"} <= set(
        fabric_chat.__all__
    )
    assert {"Timeout"} <= set(fabric_chat.__all__)
    assert RetryPolicy().max_attempts == 4
    assert ReconnectPolicy().cap > 0
    assert HeartbeatPolicy().ping_timeout > 0
    assert ConnectionState.CONNECTED.value == "connected"
    assert Timeout(5.0).connect is None
