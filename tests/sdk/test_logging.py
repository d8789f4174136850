"""Loggers under fabric_chat, FABRIC_CHAT_LOG, and one line per request with no token."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import re
import subprocess
import sys

import fabric_chat_runtime
import pytest
from fabric_chat import AsyncClient
from fabric_chat_runtime.logs import ROOT, configure_from_environment
from fabric_chat_server.testing import LocalServer


def test_loggers_are_under_fabric_chat_and_the_variable_turns_them_on() -> None:
    names = set()
    for info in pkgutil.iter_modules(fabric_chat_runtime.__path__):
        module = importlib.import_module(f"fabric_chat_runtime.{info.name}")
        logger = getattr(module, "logger", None)
        if isinstance(logger, logging.Logger):
            names.add(logger.name)
    assert {"fabric_chat.http", "fabric_chat.session", "fabric_chat.subscriptions"} <= names
    assert all(name.startswith(ROOT + ".") for name in names), names
    assert configure_from_environment({}) is None
    assert configure_from_environment({"FABRIC_CHAT_LOG": "verbose"}) is None
    script = (
        "import logging, fabric_chat\n"
        "logging.getLogger('fabric_chat.http').info('hello %s', 'there')\n"
        "logging.getLogger('fabric_chat.http').debug('quiet')\n"
    )
    env = {"PATH": os.environ["PATH"], "FABRIC_CHAT_LOG": "info"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"INFO fabric_chat\.http: hello there\n$", done.stderr)
    assert "quiet" not in done.stderr


async def test_one_line_per_request_with_status_time_and_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    async with LocalServer() as server:
        token = await server.token("alice")
        async with AsyncClient(token=token) as client:
            await client.get_subscriber_info()
    lines = [r.getMessage() for r in caplog.records if r.name == "fabric_chat.http"]
    assert len(lines) == 1
    assert re.fullmatch(
        r"GET /api/fabric/subscriber/info 200 \d+ms request_id=req_[0-9a-f]{24}", lines[0]
    )
    assert all(token not in r.getMessage() for r in caplog.records)
