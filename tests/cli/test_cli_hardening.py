"""The CLI prints no one's escape sequences; the server's credentials stay out of argv and logs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pty
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from fabric_chat_cli._output import printable
from fabric_chat_server.logs import LOG_FORMAT, LogLineFormatter

from .conftest import FABRIC_CHAT, Running, Server, clean_env, cli, mint

HOSTILE = "\x1b[2J\x1b]0;owned\x07hi\r2026-01-01 00:00:00  Bob: forged\u202eevil\x00\x9b"
FORBIDDEN = ("\x1b", "\x07", "\r", "\u202e", "\x00", "\x9b")
# What a sender can store: the server refuses U+0000 in any string (422), so the stored text is
# the rest; `printable` still escapes a NUL that another server might send.
STORED = HOSTILE.replace("\x00", "")


def test_printable_escapes_every_control_and_format_character() -> None:
    shown = printable(HOSTILE)
    assert not any(char in shown for char in FORBIDDEN)
    assert "\\x1b[2J" in shown
    assert "\\u202e" in shown
    assert printable("two\nlines", keep_newlines=True) == "two\n    lines"
    assert printable("plain text, ünïcödé 😀") == "plain text, ünïcödé 😀"


def _as(token: str) -> dict[str, str]:
    return clean_env(FABRIC_CHAT_TOKEN=token)


def test_history_cannot_clear_the_screen_or_forge_lines_tty_or_not(server: Server) -> None:
    mallory = mint(server.url, "mallory\x1b]0;title\x07")
    bob = server.tokens["bob"]
    whoami = cli("whoami", "--address", env=_as(mallory))
    sent = subprocess.run(  # from stdin: argv cannot hold a NUL
        [str(FABRIC_CHAT), "send", server.addresses["bob"], "-"],
        input=STORED,
        capture_output=True,
        text=True,
        env=_as(mallory),
        timeout=30,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    mallory_address = whoami.out.strip()

    piped = cli("history", mallory_address, env=_as(bob))
    assert piped.status == 0, piped.err
    assert not any(char in piped.out for char in FORBIDDEN)
    assert all(not line.startswith("2026-01-01") for line in piped.out.splitlines())

    controller, terminal = pty.openpty()
    shown: list[bytes] = []

    def read_terminal() -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 65536):
                shown.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        process = subprocess.Popen(
            [str(FABRIC_CHAT), "history", mallory_address],
            stdout=terminal,
            stderr=terminal,
            env=_as(bob),
        )
        os.close(terminal)
        process.wait(timeout=30)
        reader.join(10)
    finally:
        os.close(controller)
    on_screen = b"".join(shown).decode("utf-8", "replace")
    assert "forged" in on_screen
    assert not any(char in on_screen for char in ("\x1b]0;", "\x1b[2J", "\x07", "\u202e"))

    exact = cli("history", mallory_address, "--json", "--page-size", "1", env=_as(bob))
    assert json.loads(exact.out)["text"] == STORED  # --json stays exact


def test_the_project_token_can_come_from_a_file_and_stays_out_of_argv(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("file-held-project-token\n")
    secret_file.chmod(0o600)
    serve = Running(
        "serve",
        "--port",
        "0",
        "--db",
        str(tmp_path / "chat.db"),
        "--project-id",
        "file-project",
        "--project-token-file",
        str(secret_file),
        "--log-level",
        "INFO",
        env=clean_env(),
    )
    try:
        url = serve.stdout.next_line(timeout=20).removeprefix("listening on ")
        argv = Path(f"/proc/{serve.process.pid}/cmdline").read_bytes()
        assert b"file-held-project-token" not in argv
        token = cli(
            "token",
            "alice",
            "--server",
            url,
            env=clean_env(
                FABRIC_CHAT_PROJECT_ID="file-project",
                FABRIC_CHAT_PROJECT_TOKEN="file-held-project-token",
            ),
        )
        assert token.status == 0, token.err
        # A path with an encoded newline cannot forge a log line.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url + "/x%0AERROR%20forged%3A%20line%0D%1B[2J", timeout=10)
        assert serve.interrupt() == 0
        logged = serve.stderr.rest()
    finally:
        serve.close()
    lines = [line for line in logged.splitlines() if line]
    assert lines, "the server logged nothing at INFO"
    for line in lines:
        assert line.startswith(("DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL ", "    ")), line
        assert "\x1b" not in line
    assert not any(line.startswith("ERROR forged") for line in lines)
    assert any("ERROR%20forged" in line for line in lines)  # the access line, one line
    assert any("/x\\nERROR forged" in line for line in lines)  # the request line, escaped


def test_a_log_record_is_one_line_whatever_the_caller_sent() -> None:
    formatter = LogLineFormatter(LOG_FORMAT)
    record = logging.LogRecord(
        "fabric_chat_server",
        logging.ERROR,
        __file__,
        1,
        "unexpected error on %s %s",
        ("GET", "/x\nERROR forged: line\r\x1b[2J\u2028"),
        None,
    )
    line = formatter.format(record)
    assert not any(char in line for char in "\n\r\x1b\u2028")
    assert line.startswith("ERROR fabric_chat_server: unexpected error on GET /x\\nERROR forged")
    try:
        raise ValueError("bad value\nCRITICAL forged")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    lines = formatter.format(record).split("\n")
    assert lines[0] == "ERROR x: boom"
    assert all(line.startswith("    ") for line in lines[1:])
