"""``fabric-chat`` driven as a user would: subprocesses against ``fabric-chat serve``."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import pty
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fabric_chat_cli
import jwt
import pytest
from fabric_chat import AsyncClient
from fabric_chat_server.testing import LocalServer

from .conftest import FABRIC_CHAT, Result, Running, Server, clean_env, cli, mint

#: Modules the SDK-based commands must not import: they go through ``fabric_chat.AsyncClient``.
_RAW_HTTP = {"aiohttp", "httpx", "requests", "http", "fabric_chat_runtime"}
COMMANDS = ("serve", "token", "room", "whoami", "join", "send", "history", "tail")


def as_user(server: Server, name: str, *, url: bool = False) -> dict[str, str]:
    """The environment of someone signed in as ``name`` (the URL comes from the token)."""
    extra = {"FABRIC_CHAT_TOKEN": server.tokens[name]}
    if url:
        extra["FABRIC_CHAT_URL"] = server.url
    return clean_env(**extra)


def test_the_group_lists_every_command() -> None:
    result = cli("--help")
    assert result.status == 0
    for command in COMMANDS:
        assert f"  {command} " in result.out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = cli(command, "--help")
    assert result.status == 0, result.err
    assert result.out.startswith(f"Usage: fabric-chat {command} ")
    if command not in ("serve", "token", "room"):
        assert "FABRIC_CHAT_TOKEN" in result.out
        assert "FABRIC_CHAT_URL" in result.out


def test_whoami_shows_the_subscriber(server: Server) -> None:
    human = cli("whoami", env=as_user(server, "alice", url=True))
    assert human.status == 0, human.err
    assert human.out.splitlines()[0].endswith("  Alice")
    assert f"address     {server.addresses['alice']}  Alice (subscriber)" in human.out

    # Flags instead of the environment; JSON for scripts.
    flags = cli("whoami", "--json", "--token", server.tokens["bob"], "--server", server.url)
    assert flags.status == 0, flags.err
    info = json.loads(flags.out)
    assert info["display_name"] == "Bob"
    assert info["fabric_addresses"][0]["id"] == server.addresses["bob"]

    # FABRIC_CHAT_URL is really used: pointed elsewhere, the same command cannot connect.
    elsewhere = clean_env(
        FABRIC_CHAT_TOKEN=server.tokens["bob"], FABRIC_CHAT_URL="http://127.0.0.1:9"
    )
    assert_one_error_line(cli("whoami", env=elsewhere), 1, "http://127.0.0.1:9/api/fabric")


def test_join_is_idempotent(server: Server) -> None:
    env = as_user(server, "alice")
    first = cli("join", server.addresses["bob"], env=env)
    again = cli("join", server.addresses["bob"], env=env)
    assert first.status == again.status == 0
    assert first.out.startswith("joined conversation ")
    assert first.out.endswith("(2 members)\n")
    assert first.out == again.out


def test_send_with_metadata_then_read_it_back(server: Server) -> None:
    sent = cli(
        "send",
        server.addresses["bob"],
        "Hello Bob from the shell",
        "--metadata",
        '{"priority": 2}',
        env=as_user(server, "alice"),
    )
    assert sent.status == 0, sent.err
    assert sent.out.startswith("sent ")
    message_id = sent.out.split()[1]

    newest = cli(
        "history",
        server.addresses["alice"],
        "--json",
        "--page-size",
        "1",
        env=as_user(server, "bob"),
    )
    assert newest.status == 0, newest.err
    item = json.loads(newest.out)
    assert item["id"] == message_id
    assert item["text"] == "Hello Bob from the shell"
    assert item["metadata"] == {"priority": 2}
    assert item["user_name"] == "Alice"

    human = cli("history", server.addresses["alice"], env=as_user(server, "bob"))
    assert "  Alice: Hello Bob from the shell" in human.out.splitlines()[0]


def test_send_reads_the_text_from_stdin(server: Server) -> None:
    piped = subprocess.run(
        [str(FABRIC_CHAT), "send", server.addresses["alice"], "-", "--json"],
        input="two lines\nfrom a pipe\n",
        capture_output=True,
        text=True,
        env=as_user(server, "bob"),
        timeout=30,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["text"] == ("two lines\nfrom a pipe")


def test_history_all_walks_every_page(server: Server) -> None:
    carol, dave = mint(server.url, "carol"), mint(server.url, "dave")
    texts = [f"note {n:02}" for n in range(23)]

    async def seed() -> tuple[str, str]:
        async with AsyncClient(token=carol) as c, AsyncClient(token=dave) as d:
            dave_address = (await d.get_subscriber_info()).fabric_addresses[0].id
            carol_address = (await c.get_subscriber_info()).fabric_addresses[0].id
            for text in texts:
                await c.chat.send_message(address_id=dave_address, text=text)
        return carol_address, dave_address

    carol_address, _ = asyncio.run(seed())
    env = clean_env(FABRIC_CHAT_TOKEN=dave)

    first_page = cli("history", carol_address, "--page-size", "5", env=env)
    assert first_page.status == 0
    assert len(first_page.out.splitlines()) == 5
    assert "--all" in first_page.err  # a hint that older pages exist

    walked = cli("history", carol_address, "--all", "--json", "--page-size", "5", env=env)
    assert walked.status == 0, walked.err
    assert walked.err == ""  # stderr is not a terminal: no progress bar
    items = [json.loads(line) for line in walked.out.splitlines()]
    assert [item["text"] for item in items] == texts[::-1]
    assert len({item["id"] for item in items}) == 23

    forced = cli(
        "history", carol_address, "--all", "--json", "--page-size", "5", "--progress", env=env
    )
    assert forced.status == 0, forced.err
    assert forced.out == walked.out  # the bar goes to stderr only
    assert "23/23" in forced.err
    assert "5 page(s)" in forced.err


def test_history_into_a_closed_pipe_ends_quietly(server: Server) -> None:
    """``fabric-chat history --all | head -n 1``: no BrokenPipeError, exit status 0."""
    erin, frank = mint(server.url, "erin"), mint(server.url, "frank")
    big = "y" * 20_000  # 12 of these overflow a 64 KiB pipe buffer

    async def seed() -> str:
        async with AsyncClient(token=erin) as e, AsyncClient(token=frank) as f:
            frank_address = (await f.get_subscriber_info()).fabric_addresses[0].id
            for n in range(12):
                await e.chat.send_message(address_id=frank_address, text=f"{n} {big}")
            return (await e.get_subscriber_info()).fabric_addresses[0].id

    erin_address = asyncio.run(seed())
    done = subprocess.run(
        ["bash", "-c", f'"{FABRIC_CHAT}" history {erin_address} --all --json | head -n 1; '
         'echo "status=${PIPESTATUS[0]}"'],
        env=clean_env(FABRIC_CHAT_TOKEN=frank),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    first, status = done.stdout.splitlines()
    assert json.loads(first)["text"] == f"11 {big}"
    assert status == "status=0"
    assert done.stderr == ""


def test_history_progress_bar_shows_by_itself_when_stderr_is_a_terminal(server: Server) -> None:
    sent = cli("send", server.addresses["alice"], "for the bar", env=as_user(server, "bob"))
    assert sent.status == 0, sent.err
    controller, terminal = pty.openpty()
    shown: list[bytes] = []

    def read_terminal() -> None:  # until the last writer closes it (EIO on Linux)
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 65536):
                shown.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen(
            [str(FABRIC_CHAT), "history", server.addresses["bob"], "--all", "--json"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=as_user(server, "alice"),
        )
        os.close(terminal)
        out, _ = process.communicate(timeout=30)
        reader.join(10)
    finally:
        os.close(controller)
    assert process.returncode == 0
    bar = b"".join(shown)
    assert b"messages, " in bar  # the bar, on the terminal
    assert b"page(s)" in bar
    items = [json.loads(line) for line in out.decode().splitlines()]  # clean JSON on the pipe
    assert items[0]["text"] == "for the bar"
    assert all(item["conversation_id"] == server.addresses["bob"] for item in items)


def test_tail_prints_live_messages_until_ctrl_c(server: Server, running: list[Running]) -> None:
    tail = Running("tail", server.addresses["alice"], env=as_user(server, "bob"))
    running.append(tail)
    assert "listening for messages" in tail.stderr.next_line()
    sent = cli("send", server.addresses["bob"], "live from alice", env=as_user(server, "alice"))
    assert sent.status == 0, sent.err
    assert tail.stdout.next_line().endswith("  Alice: live from alice")
    assert tail.interrupt(signal.SIGINT) == 0  # documented: Ctrl-C exits 0
    assert "Traceback" not in tail.stderr.rest()


def test_tail_max_messages_json_exits_by_itself(server: Server, running: list[Running]) -> None:
    tail = Running(
        "tail",
        server.addresses["bob"],
        "--json",
        "--max-messages",
        "2",
        env=as_user(server, "alice"),
    )
    running.append(tail)
    tail.stderr.wait_for("listening for messages")
    for text in ("one", "two"):
        assert cli("send", server.addresses["alice"], text, env=as_user(server, "bob")).status == 0
        assert json.loads(tail.stdout.next_line())["text"] == text
    assert tail.process.wait(15) == 0


def cli_many(*commands: tuple[str, ...]) -> list[Result]:
    """Run several ``fabric-chat`` commands at once (each a subprocess); return their results."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda args: cli(*args), commands))


def assert_one_error_line(result: Result, status: int, needle: str, *secrets: str) -> None:
    """The command failed with ``status`` and said so in one ``Error:`` line, secrets hidden."""
    assert result.status == status, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: "), result.err
    assert needle in lines[0], result.err
    assert "Traceback" not in result.err
    for secret in secrets:
        assert secret not in result.err


def test_errors_are_one_clear_line(server: Server) -> None:
    alice = server.tokens["alice"]
    forged = alice[:-6] + "AAAAAA"
    # bob's conversation with a third subscriber: alice is not a member of it.
    third = mint(server.url, "gina")
    third_address = cli("whoami", "--address", env=clean_env(FABRIC_CHAT_TOKEN=third)).out.strip()
    joined = cli("join", third_address, env=as_user(server, "bob"))
    assert joined.status == 0, joined.err
    group_id = joined.out.split()[2]
    cases = [
        (("whoami", "--token", forged), "refused the token (401"),
        (("send", "no-such-address", "hi", "--token", forged), "refused the token"),
        (("join", "no-such-address", "--token", alice), "404"),
        (("history", "no-such-address", "--token", alice), "404"),
        (("tail", "no-such-address", "--token", alice), "404"),
        (("history", group_id, "--token", alice), "not a member of this conversation"),
        (("send", group_id, "hi", "--token", alice), "403"),
        (("whoami", "--token", alice, "--server", "http://127.0.0.1:9"), "cannot reach"),
    ]
    for (_, needle), result in zip(cases, cli_many(*(args for args, _ in cases)), strict=True):
        assert_one_error_line(result, 1, needle, forged, alice)


def test_bad_usage_is_one_line_and_exit_status_2(server: Server) -> None:
    alice = server.tokens["alice"]
    bob_address = server.addresses["bob"]
    cases = [
        (("whoami",), "the token is missing: pass --token-file PATH (or -: stdin), or set "),
        (("history", bob_address, "--token", "  "), "the token is empty"),
        (
            ("send", bob_address, "hi", "--metadata", "{priority: 1", "--token", alice),
            "Invalid value for '--metadata': not valid JSON",
        ),
        (
            ("send", bob_address, "hi", "--metadata", "[1, 2]", "--token", alice),
            "must be a JSON object",
        ),
        (
            ("history", bob_address, "--page-size", "0", "--token", alice),
            "'--page-size': 0 is not in the range 1<=x<=1000",
        ),
        (("history", bob_address, "--page-size", "1001", "--token", alice), "1001 is not in"),
        (("send", "--token", alice), "Missing argument 'ADDRESS'"),
        (("token", "alice", "--project-token", "t"), "Missing option '--project-id'"),
        (("room", "--project-id", "p", "--project-token", "t"), "Missing argument 'NAME'"),
        (("serve", "--port", "abc"), "'--port': 'abc' is not a valid integer"),
        (("whoami", "--token", "not-a-jwt"), "not a JWT"),  # refused before anything is sent
    ]
    results = cli_many(*(args for args, _ in cases))
    for (_, needle), result in zip(cases, results, strict=True):
        assert_one_error_line(result, 2, needle, alice)
    assert "(see 'fabric-chat history --help')" in results[4].err
    # Nothing was sent by the refused commands.
    newest = cli("history", bob_address, "--json", "--all", "--token", alice)
    assert all(json.loads(line)["text"] != "hi" for line in newest.out.splitlines())


async def test_an_expired_token_is_one_clear_line(tmp_path: Path) -> None:
    async with LocalServer(db_path=tmp_path / "expired.db") as local:
        claims = jwt.decode(await local.token("ivy"), options={"verify_signature": False})
        now = int(time.time())
        expired = local.state.token_service.mint(
            subscriber_id=claims["sub"],
            project_id=claims["project_id"],
            channel=local.ws_url,
            now=now - 3600,
            expires_at=now - 60,
        )
        for args in (("whoami",), ("tail", await local.address_of("ivy"))):
            process = await asyncio.create_subprocess_exec(
                str(FABRIC_CHAT),
                *args,
                env=clean_env(FABRIC_CHAT_TOKEN=expired, FABRIC_CHAT_URL=local.base_url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            async with asyncio.timeout(30):
                out, err = await process.communicate()
            assert process.returncode is not None
            result = Result(process.returncode, out.decode(), err.decode())
            assert_one_error_line(result, 1, "401 unauthorized: the token has expired", expired)


def test_an_empty_history_says_so(server: Server) -> None:
    loner = mint(server.url, "jack")
    result = cli("history", server.addresses["alice"], env=clean_env(FABRIC_CHAT_TOKEN=loner))
    assert result.status == 0, result.err
    assert result.out == ""
    assert result.err == "(no messages yet)\n"


def test_debug_shows_the_traceback_but_never_the_token(server: Server) -> None:
    forged = server.tokens["alice"][:-6] + "AAAAAA"
    result = cli("whoami", "--debug", "--token", forged)
    assert result.status == 1
    assert "Traceback (most recent call last)" in result.err
    assert "AuthenticationError" in result.err
    assert "DEBUG " in result.err  # the SDK's debug log, too
    assert forged not in result.err


def test_the_chat_commands_talk_through_the_sdk_only() -> None:
    """whoami, join, send, history and tail use ``fabric_chat.AsyncClient``, never raw HTTP."""
    cli_dir = Path(fabric_chat_cli.__file__).parent
    for name in ("chat.py", "_connection.py", "_output.py"):
        tree = ast.parse((cli_dir / name).read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        raw = {module for module in imported if module.split(".")[0] in _RAW_HTTP}
        assert not raw, f"{name} imports {raw}"
        if name == "chat.py":
            assert "fabric_chat" in imported


def test_the_console_script_is_the_installed_entry_point() -> None:
    assert FABRIC_CHAT.exists()
    version = cli("--version")
    assert version.status == 0
    assert "0.1.0" in version.out


async def test_tail_reports_a_dropped_connection_and_catches_up(tmp_path: Path) -> None:
    """The server restarts under ``tail``: it says so, reconnects, and misses nothing."""
    async with LocalServer(db_path=tmp_path / "restart.db") as local:
        alice, bob = await local.token("alice", display_name="Alice"), await local.token("bob")
        alice_address, bob_address = await local.address_of("alice"), await local.address_of("bob")
        tail = await asyncio.create_subprocess_exec(
            str(FABRIC_CHAT),
            "tail",
            alice_address,
            env=clean_env(FABRIC_CHAT_TOKEN=bob),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert tail.stdout is not None
        assert tail.stderr is not None
        try:
            async with asyncio.timeout(30):
                assert b"listening for messages" in await tail.stderr.readline()
                await local.stop()
                assert await tail.stderr.readline() == b"connection lost; reconnecting...\n"
                async with AsyncClient(token=alice) as client:  # sent while tail is away
                    await local.start()
                    await client.chat.send_message(address_id=bob_address, text="while away")
                assert (await tail.stdout.readline()).endswith(b"  Alice: while away\n")
                assert await tail.stderr.readline() == b"reconnected\n"
        finally:
            if tail.returncode is None:
                tail.send_signal(signal.SIGINT)
            async with asyncio.timeout(15):
                _, rest = await tail.communicate()
        assert tail.returncode == 0
        assert b"Traceback" not in rest


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_tail_exits_with_one_error_line_once_the_token_is_refused(
    tmp_path: Path, how: str
) -> None:
    """The token expires (or the server stops honouring it) under ``tail``: status 1, no hang.

    The server disconnects a socket whose token expires, and the SDK's reconnect is refused
    (as it is after a restart with another signing secret): the client moves to ``failed``.
    """
    ttl = 6.0 if how == "expired" else 3600.0
    async with LocalServer(db_path=tmp_path / "refused.db", token_ttl=ttl) as local:
        bob = await local.token("bob")
        tail = await asyncio.create_subprocess_exec(
            str(FABRIC_CHAT),
            "tail",
            await local.address_of("alice"),
            env=clean_env(FABRIC_CHAT_TOKEN=bob),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert tail.stdout is not None
        assert tail.stderr is not None
        try:
            async with asyncio.timeout(30):
                assert b"listening for messages" in await tail.stderr.readline()
                if how == "revoked":
                    local.config.jwt_secret = "another secret"
                    await local.restart()
                out, err = await tail.communicate()
        finally:
            if tail.returncode is None:
                tail.kill()
                await tail.wait()
    assert tail.returncode == 1
    assert out == b""
    lines = err.decode().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert errors == lines[-1:], lines
    assert "the server refused the token" in errors[0]
    reason = "the token has expired" if how == "expired" else "the token is invalid"
    assert reason in errors[0]
    assert set(lines[:-1]) <= {"connection lost; reconnecting..."}, lines
    assert bob not in err.decode()
    assert "Traceback" not in err.decode()
