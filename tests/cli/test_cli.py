"""``fabric-chat`` driven as a user would: subprocesses against ``fabric-chat serve``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from fabric_chat import Client
from fabric_chat_server.testing import LocalServer

from .conftest import FABRIC_CHAT, Running, Server, clean_env, cli, mint

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
        async with Client(token=carol) as c, Client(token=dave) as d:
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
        async with Client(token=erin) as e, Client(token=frank) as f:
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


def test_errors_are_one_clear_line(server: Server) -> None:
    forged = server.tokens["alice"][:-6] + "AAAAAA"
    cases = [
        (("whoami", "--token", "not-a-jwt"), "not a JWT"),
        (("whoami", "--token", forged), "refused the token"),
        (("send", "no-such-address", "hi", "--token", forged), "refused the token"),
        (("join", "no-such-address", "--token", server.tokens["alice"]), "404"),
        (("whoami", "--token", forged, "--server", "http://127.0.0.1:9"), "cannot reach"),
    ]
    for args, needle in cases:
        result = cli(*args)
        assert result.status == 1, args
        assert result.out == ""
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("Error: ")
        assert needle in lines[0]
        assert forged not in result.err
        assert server.tokens["alice"] not in result.err


def test_usage_errors_exit_2_without_a_traceback(server: Server) -> None:
    missing = cli("whoami")
    assert missing.status == 2
    assert "Missing option '--token'" in missing.err
    bad_json = cli("send", "x", "hi", "--metadata", "[1, 2]", env=as_user(server, "alice"))
    assert bad_json.status == 2
    assert "must be a JSON object" in bad_json.err
    for result in (missing, bad_json):
        assert "Traceback" not in result.err


def test_debug_shows_the_traceback(server: Server) -> None:
    result = cli("whoami", "--debug", "--token", server.tokens["alice"][:-6] + "AAAAAA")
    assert result.status == 1
    assert "Traceback (most recent call last)" in result.err
    assert "AuthenticationError" in result.err


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
                async with Client(token=alice) as client:  # sent while tail is away
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
