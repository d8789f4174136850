"""Restart on the same database, and the ``fabric-chat`` command (serve, token, room)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
from click.testing import CliRunner
from fabric_chat._protocol import SIGNALWIRE_CONNECT, SIGNALWIRE_DISCONNECT
from fabric_chat_cli.commands import main
from fabric_chat_server.testing import LocalServer, ServerProcess

PROMPT_STOP = 5.0
"""Seconds a stop may take: far below the 10-60 s timeouts a stop must not wait for, far above
what a loaded machine needs (this bounds behaviour, it is not a speed figure)."""


async def test_restart_keeps_everything(
    tmp_path: Path, rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with (
        LocalServer(db_path=tmp_path / "keep.db", **store_options) as server,
        aiohttp.ClientSession() as session,
    ):
        alice, bob = await server.token("alice"), await server.token("bob")
        b_addr = await server.address_of("bob")
        headers = {"Authorization": f"Bearer {alice}"}
        async with session.post(
            server.base_url + "/api/fabric/messages",
            json={"conversation_id": b_addr, "text": "kept"},
            headers=headers,
        ) as response:
            sent = await response.json()
        room = await server.create_room("kept-room", display_name="Kept")
        async with session.post(
            server.base_url + "/api/fabric/messages",
            json={"conversation_id": room, "text": "in the room"},
            headers=headers,
        ) as response:
            in_room = await response.json()
        rpc = await rpc_for(server)
        await rpc.connect(bob)
        port = server.port
        await server.restart()
        assert server.port == port
        # The old token still works: subscribers, the secret and the message survived.
        async with session.get(
            server.base_url + "/api/fabric/messages", headers=headers
        ) as response:
            page = await response.json()
        assert [m["id"] for m in page["data"]] == [in_room["id"], sent["id"]]
        async with session.get(
            server.base_url + "/api/fabric/conversations", headers=headers
        ) as response:
            assert len((await response.json())["data"]) == 2
        async with session.get(
            server.base_url + f"/api/fabric/addresses/{room}", headers=headers
        ) as response:
            assert (await response.json())["display_name"] == "Kept"
        # Membership survived: Bob still reads the 1:1, and still may not read the room.
        bob_headers = {"Authorization": f"Bearer {bob}"}
        async with session.get(
            server.base_url + f"/api/fabric/conversations/{sent['group_id']}/messages",
            headers=bob_headers,
        ) as response:
            assert [m["text"] for m in (await response.json())["data"]] == ["kept"]
        async with session.get(
            server.base_url + f"/api/fabric/conversations/{in_room['group_id']}/messages",
            headers=bob_headers,
        ) as response:
            assert response.status == 403
        fresh = await rpc_for(server)
        assert "result" in await fresh.connect(bob)


def _setting(db: str, key: str) -> str:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        row = connection.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    assert row is not None
    return str(row[0])


def _exists(path: str) -> bool:
    return Path(path).exists()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FABRIC_CHAT_")}
    env.update(extra)
    return env


async def test_serve_prints_listening_and_generated_credentials_once(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    async with ServerProcess("--db", db, env=_env()) as process:
        assert process.lines[0] == f"listening on {process.base_url}"
        id_line, token_line = await process.read_line(), await process.read_line()
        assert id_line.startswith("project id: ")
        assert token_line.startswith("project token: ")
        project_id, project_token = id_line.split(": ", 1)[1], token_line.split(": ", 1)[1]
        started = time.monotonic()
        assert await process.stop(signal.SIGINT) == 0
        assert time.monotonic() - started < PROMPT_STOP
    # The database was closed cleanly: SQLite checkpoints and removes the WAL on the last close.
    assert _exists(db)
    assert not _exists(db + "-wal")
    async with ServerProcess("--db", db, env=_env()) as again:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                again.base_url + "/api/fabric/subscribers/tokens",
                json={"reference": "alice"},
                headers={"Authorization": _basic(project_id, project_token)},
            ) as response,
        ):
            assert response.status == 200
        started = time.monotonic()
        assert await again.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < PROMPT_STOP
        assert not _exists(db + "-wal")
        rest = "".join(again.lines[1:])
        assert "project token" not in rest


async def test_serve_with_env_credentials_and_cli_token_and_room(tmp_path: Path) -> None:
    env = _env(FABRIC_CHAT_PROJECT_ID="proj-1", FABRIC_CHAT_PROJECT_TOKEN="tok-1")
    db = str(tmp_path / "env.db")
    async with ServerProcess("--db", db, "--log-level", "DEBUG", env=env) as process:
        runner = CliRunner()
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            None,
            lambda: runner.invoke(
                main,
                ["token", "alice", "--server", process.base_url, "--display-name", "Alice"],
                env=env,
            ),
        )
        assert result.exit_code == 0, result.output
        token = result.output.strip()
        assert token.count(".") == 2
        room = await loop.run_in_executor(
            None,
            lambda: runner.invoke(main, ["room", "general", "--server", process.base_url], env=env),
        )
        assert room.exit_code == 0, room.output
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                process.base_url + f"/api/fabric/addresses/{room.output.strip()}",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert (await response.json())["name"] == "general"
        bad = await loop.run_in_executor(
            None,
            lambda: runner.invoke(
                main,
                ["token", "bob", "--server", process.base_url, "--project-token", "s3cr3t-guess"],
                env=env,
            ),
        )
        assert bad.exit_code != 0
        assert "401" in bad.output
        assert "s3cr3t-guess" not in bad.output
        # A token's `ch` header names the server's WebSocket URL.
        import jwt

        assert jwt.get_unverified_header(token)["ch"] == process.ws_url
    # Logged at DEBUG, the whole run (its start-up included) never wrote a secret.
    assert "DEBUG" in process.stderr
    jwt_secret = _setting(db, "jwt_secret")
    for secret in (token, token.split(".")[2], "tok-1", "s3cr3t-guess", jwt_secret):
        assert secret not in process.stderr


def test_serve_rejects_half_credentials() -> None:
    result = CliRunner().invoke(
        main, ["serve", "--project-id", "only"], env={"FABRIC_CHAT_PROJECT_TOKEN": ""}
    )
    assert result.exit_code != 0


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "token", "room"):
        assert command in result.output


async def test_shutdown_sends_disconnect_to_open_sockets(tmp_path: Path) -> None:
    env = _env(FABRIC_CHAT_PROJECT_ID="p", FABRIC_CHAT_PROJECT_TOKEN="t")
    async with (
        ServerProcess("--db", str(tmp_path / "sig.db"), env=env) as process,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(
            process.base_url + "/api/fabric/subscribers/tokens",
            json={"reference": "a"},
            headers={"Authorization": _basic("p", "t")},
        ) as response:
            token = (await response.json())["token"]
        async with session.ws_connect(process.ws_url + "/") as ws:
            await ws.send_json(
                {
                    "jsonrpc": "2.0",
                    "id": "c",
                    "method": SIGNALWIRE_CONNECT,
                    "params": {
                        "version": {"major": 4, "minor": 0, "revision": 0},
                        "authentication": {"jwt_token": token},
                    },
                }
            )
            assert "result" in await ws.receive_json(timeout=5)
            assert process.process is not None
            started = time.monotonic()
            process.process.send_signal(signal.SIGTERM)
            methods = []
            for _ in range(5):
                message = await ws.receive(timeout=5)
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                methods.append(message.json().get("method"))
            assert SIGNALWIRE_DISCONNECT in methods
            async with asyncio.timeout(5):
                assert await process.process.wait() == 0
            # Stopped promptly, though a socket was open (and answered nothing).
            assert time.monotonic() - started < PROMPT_STOP


async def test_serve_rate_limit_option_limits_each_caller(tmp_path: Path) -> None:
    env = _env(FABRIC_CHAT_PROJECT_ID="proj-r", FABRIC_CHAT_PROJECT_TOKEN="tok-r")
    args = ("--db", str(tmp_path / "rate.db"), "--rate-limit", "1")
    async with ServerProcess(*args, env=env) as process, aiohttp.ClientSession() as session:
        async with session.post(
            process.base_url + "/api/fabric/subscribers/tokens",
            json={"reference": "alice"},
            headers={"Authorization": _basic("proj-r", "tok-r")},
        ) as response:
            token = (await response.json())["token"]
        statuses = []
        for _ in range(4):  # a burst of 2 at 1 request/s: the third and fourth are refused
            async with session.get(
                process.base_url + "/api/fabric/subscriber/info",
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                statuses.append(response.status)
                retry_after = response.headers.get("Retry-After")
        assert statuses[:2] == [200, 200]
        assert statuses[-1] == 429
        assert retry_after is not None
        assert float(retry_after) > 0
        assert await process.stop(signal.SIGTERM) == 0


def test_serve_help_shows_the_defaults() -> None:
    result = CliRunner().invoke(
        main, ["serve", "--help"], terminal_width=200, max_content_width=200
    )
    assert result.exit_code == 0
    for default in ("127.0.0.1", "8787", "fabric-chat.db", "--public-url", "--project-id"):
        assert default in result.output
