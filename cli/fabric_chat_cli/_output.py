"""How the SDK-based commands print: one line per message, JSON Lines, a progress bar."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import click
import msgspec
from fabric_chat import ConversationChatMessage
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = [
    "HistoryProgress",
    "echo_line",
    "format_message",
    "message_json",
    "printable",
    "to_json_line",
]


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Return ``text`` with every control or format character escaped (``\\x1b``, ``\\u202e``).

    Other people's text reaches the terminal only through here, tty or not: no escape
    sequence can clear the screen, retitle the terminal, move the cursor, reverse the text
    or forge a line. With ``keep_newlines``, a newline stays and the next line is indented.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char == "\n" and keep_newlines:
            out.append("\n    ")
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "".join(out)


def format_message(message: Any) -> str:
    """Return ``2026-11-26 23:35:14  Alice: Hello Bob`` for a chat message (local time).

    Names and text are escaped by :func:`printable`; a newline in the text indents the rest.
    """
    when = datetime.fromtimestamp(float(message.ts)).strftime("%Y-%m-%d %H:%M:%S")
    who = printable(message.user_name or message.from_address_id or message.user_id or "?")
    text = printable(message.text or "", keep_newlines=True)
    return f"{when}  {who}: {text}"


def to_json_line(value: Any) -> str:
    """Return a model as one line of JSON: its ``to_dict()``, as the SDK gives it."""
    return msgspec.json.encode(value.to_dict()).decode()


def message_json(message: Any) -> str:
    """Return a message as one line of JSON, in the one shape every command prints.

    ``send --json``, ``history --json`` and ``tail --json`` all print a
    :class:`~fabric_chat.ConversationChatMessage`'s ``to_dict()``: the sent message (a
    ``ConversationMessage``) is seen through the same chat view as history and live messages.
    """
    if not isinstance(message, ConversationChatMessage):
        message = msgspec.convert(message.to_dict(), ConversationChatMessage)
    return to_json_line(message)


def echo_line(line: str) -> None:
    """Print one line to stdout and flush it; end quietly when the reader has gone (``| head``).

    Raises:
        click.exceptions.Exit: stdout is a closed pipe (status 0).
    """
    try:
        click.echo(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so that the interpreter's final flush does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise click.exceptions.Exit(0) from None


class HistoryProgress:
    """A rich progress line on stderr while a history is walked, or nothing at all.

    Args:
        enabled: ``True`` forces it, ``False`` turns it off, ``None`` shows it only when
            stderr is a terminal.
    """

    def __init__(self, enabled: bool | None) -> None:
        show = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        self._task: Any = None
        if show:
            console = Console(stderr=True, force_terminal=True if enabled else None)
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("history"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("messages, {task.fields[pages]} page(s)"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
                # Never swap sys.stdout: piped output must reach the pipe, not the bar's stream.
                redirect_stdout=False,
                redirect_stderr=False,
            )
        # When stdout is the terminal too, lines go through the bar's console so that they
        # print above the bar instead of through it.
        self._through_bar = self._progress is not None and sys.stdout.isatty()

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("history", total=None, pages=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def echo(self, line: str) -> None:
        """Print one output line without breaking the bar."""
        if self._through_bar and self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            echo_line(line)

    def advance(self, messages: int, *, more: bool) -> None:
        """Count one more page of ``messages`` items; ``more`` says whether another follows."""
        if self._progress is None:
            return
        task = self._progress.tasks[0]
        done = int(task.completed) + messages
        # The total is unknown until the last page; then the bar fills.
        self._progress.update(
            self._task,
            completed=done,
            pages=int(task.fields["pages"]) + 1,
            total=None if more else done,
        )
