"""Issue 13's CLI promises: exit codes as documented, help that names every variable, one JSON
shape for a message, the token from a file or stdin, and errors in our words."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import click
import pytest
from fabric_chat import ConversationChatMessage
from fabric_chat_cli.commands import main

from .conftest import FABRIC_CHAT, Running, Server, clean_env, cli
from .test_cli import as_user, assert_one_error_line, cli_many

CLI_SOURCES = Path(__file__).resolve().parents[2] / "cli" / "fabric_chat_cli"
#: Variables read by hand (``os.environ``) and by the SDK for itself, besides the options'.
_READ_BY_HAND = re.compile(r"os\.environ(?:\.get)?[(\[]\s*\"(FABRIC_CHAT_\w+)\"")


def _variables(command: click.Command) -> set[str]:
    names = {"FABRIC_CHAT_LOG"}  # the SDK reads it on import, for every command
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            envvar = param.envvar
            names.update([envvar] if isinstance(envvar, str) else envvar)
    module = CLI_SOURCES / f"{command.callback.__module__.rsplit('.', 1)[-1]}.py"  # type: ignore[union-attr]
    names.update(_READ_BY_HAND.findall(module.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("name", sorted(main.commands))
def test_help_names_every_environment_variable_the_command_reads(name: str) -> None:
    command = main.commands[name]
    expected = _variables(command)
    assert "FABRIC_CHAT_LOG" in expected
    if name not in ("serve", "token", "room"):
        assert {"FABRIC_CHAT_TOKEN", "FABRIC_CHAT_TOKEN_FILE", "FABRIC_CHAT_URL"} <= expected
    shown = cli(name, "--help")
    assert shown.status == 0, shown.err
    text = " ".join(shown.out.split())
    for variable in sorted(expected):
        assert variable in text, (name, variable)


def test_usage_errors_exit_2_in_our_words(server: Server) -> None:
    alice = server.tokens["alice"]
    bob = server.addresses["bob"]
    project = ("--project-id", "p", "--project-token", "t")
    cases = [
        (("send", bob, "", "--token", alice), "text must not be empty"),
        (("send", bob, "   ", "--token", alice), "text must not be empty"),
        (("whoami", "--token", alice, "--server", "ftp://x"), "--server must be a URL starting"),
        (("send", bob, "hi", "--token", alice, "--server", "ftp://x"), "not 'ftp://x'"),
        (("history", bob, "--token", alice, "--server", "127.0.0.1:8787"), "http:// or https://"),
        (("tail", bob, "--token", alice, "--ws-url", "ftp://x"), "--ws-url must be a URL"),
        (("token", "alice", "--server", "ftp://x", *project), "--server must be a URL starting"),
        (("room", "general", "--server", "ftp://x", *project), "not 'ftp://x'"),
        (("whoami", "--token", alice, "--token-file", "-"), "give --token or --token-file"),
    ]
    results = cli_many(*(args for args, _ in cases))
    for (_, needle), result in zip(cases, results, strict=True):
        assert_one_error_line(result, 2, needle, alice)
        assert "aiohttp" not in result.err
        assert not re.search(r"\b[A-Z]\w+(Error|Exception)\b", result.err), result.err
    history = cli("history", bob, "--json", "--all", "--token", alice)
    assert all(json.loads(line)["text"].strip() for line in history.out.splitlines())


def test_one_json_shape_for_a_message_everywhere(server: Server, running: list[Running]) -> None:
    alice = as_user(server, "alice")
    bob_address = server.addresses["bob"]
    tail = Running("tail", bob_address, "--json", "--max-messages", "1", env=alice)
    running.append(tail)
    tail.stderr.wait_for("listening for messages")
    sent = cli("send", bob_address, "one shape", "--metadata", '{"k": 1}', "--json", env=alice)
    assert sent.status == 0, sent.err
    tailed = tail.stdout.next_line()
    assert tail.process.wait(15) == 0
    history = cli("history", bob_address, "--json", "--page-size", "1", env=alice)
    assert history.status == 0, history.err
    shapes = [json.loads(sent.out), json.loads(tailed), json.loads(history.out)]
    assert shapes[0] == shapes[1] == shapes[2]
    message = shapes[0]
    assert message["text"] == "one shape"
    assert message["metadata"] == {"k": 1}
    assert message["conversation_id"] == bob_address
    # The shape is the model's to_dict(): decoding it gives the same model back.
    model = ConversationChatMessage(**message)
    assert model.to_dict() == message


def test_the_token_from_a_file_or_stdin_stays_out_of_argv(server: Server, tmp_path: Path) -> None:
    token = server.tokens["alice"]
    env = clean_env(FABRIC_CHAT_URL=server.url)
    path = tmp_path / "alice.token"
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    from_file = cli("whoami", "--address", "--token-file", str(path), env=env)
    assert from_file.status == 0, from_file.err
    assert from_file.out.strip() == server.addresses["alice"]
    from_variable = cli("whoami", "--address", env={**env, "FABRIC_CHAT_TOKEN_FILE": str(path)})
    assert from_variable.out == from_file.out
    piped = subprocess.run(
        [str(FABRIC_CHAT), "whoami", "--address", "--token-file", "-"],
        input=token + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == from_file.out
    empty = tmp_path / "empty.token"
    empty.write_text("\n", encoding="utf-8")
    secret_dir = tmp_path / "dir"
    secret_dir.mkdir()
    cases = [
        (("whoami", "--token-file", str(tmp_path / "missing")), "cannot read"),
        (("whoami", "--token-file", str(empty)), "holds no token"),
        (("whoami", "--token-file", str(secret_dir)), "cannot read"),
    ]
    for (_, needle), result in zip(cases, cli_many(*(a for a, _ in cases)), strict=True):
        assert_one_error_line(result, 2, needle, token)
