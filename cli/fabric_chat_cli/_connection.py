"""What every SDK-based command shares: where the server is, the token, and clean errors.

Each command takes ``--token`` (``FABRIC_CHAT_TOKEN``) or ``--token-file``
(``FABRIC_CHAT_TOKEN_FILE``; ``-`` reads stdin), ``--server`` (``FABRIC_CHAT_URL``),
``--ws-url`` (``FABRIC_CHAT_WS_URL``), ``--timeout`` and ``--debug``, opens one
:class:`fabric_chat.AsyncClient` and runs one coroutine with it. Every failure is one
``Error: ...`` line on stderr with the token blanked out: bad usage (no token, a bad option
value, an argument the SDK refuses before sending anything) exits with status 2, anything that
goes wrong afterwards with status 1. ``--debug`` lets the traceback through instead, and turns
on the SDK's debug logging (which never contains the token).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
import fabric_chat
from fabric_chat import AsyncClient

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "OneLineCommand",
    "Connection",
    "UsageLine",
    "connection_options",
    "describe_error",
    "read_token_file",
    "run_with_client",
]

#: Exit status after Ctrl-C in a command that is not meant to run until interrupted.
EXIT_INTERRUPTED = 130
#: Exit status of bad usage: a missing token or argument, an option value out of range.
EXIT_USAGE = 2

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and as whom a command talks to the chat service.

    Attributes:
        token: The subscriber access token (SAT); never printed.
        server: The HTTP origin, or ``None`` to derive it from the token's ``ch`` header.
        ws_url: The WebSocket URL, or ``None``: from ``server`` when given, else from the token.
        timeout: Seconds each call may take.
        debug: Whether errors show their traceback.
    """

    token: str
    server: str | None
    ws_url: str | None
    timeout: float
    debug: bool

    def __repr__(self) -> str:
        return f"Connection(server={self.server!r}, ws_url={self.ws_url!r})"

    def client(self) -> AsyncClient:
        """Return a new SDK client for this connection (use it with ``async with``)."""
        ws_url = self.ws_url
        if ws_url is None and self.server is not None:
            ws_url = _socket_url(self.server)
        return AsyncClient(
            token=self.token, base_url=self.server, ws_url=ws_url, timeout=self.timeout
        )


class UsageLine(click.ClickException):
    """Bad usage, shown as one ``Error: ...`` line (exit status 2) instead of click's usage block.

    Args:
        message: What is wrong.
        command_path: ``fabric-chat send``, named in the hint to its ``--help``.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, command_path: str | None = None) -> None:
        hint = f" (see '{command_path} --help')" if command_path else ""
        super().__init__(message.rstrip() + hint)


class OneLineCommand(click.Command):
    """A ``click.Command`` whose usage errors are one line (see :class:`UsageLine`)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else info_name
            raise UsageLine(exc.format_message(), path) from None


def _checked_url(option: str, value: str | None, schemes: tuple[str, ...], example: str) -> None:
    """Refuse a URL whose scheme the option cannot use (one line, exit status 2)."""
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme.lower() not in schemes or not parts.netloc:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise UsageLine(
            f"{option} must be a URL starting with {wanted}, such as {example}; not {value!r}"
        )


def read_token_file(path: str) -> str:
    """Return the token held in ``path`` (its first line), or read from stdin for ``-``.

    Raises:
        UsageLine: The file cannot be read or holds no token (its content is never shown).
    """
    try:
        if path == "-":
            text = sys.stdin.readline()
        else:
            with open(path, encoding="utf-8") as file:
                text = file.readline()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise UsageLine(f"--token-file: cannot read {path!r} ({reason})") from None
    token = text.strip()
    if not token:
        where = "stdin" if path == "-" else repr(path)
        raise UsageLine(f"--token-file: {where} holds no token")
    return token


def _socket_url(server: str) -> str:
    """Return the WebSocket URL on the same origin as ``server`` (our server's layout)."""
    parts = urlsplit(server)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/", "", ""))


def connection_options(command: _F) -> _F:
    """Add ``--token``, ``--server``, ``--ws-url``, ``--timeout`` and ``--debug`` to a command.

    The command receives them as one ``connection: Connection`` argument.
    """

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        token: str | None,
        token_file: str | None,
        server: str | None,
        ws_url: str | None,
        timeout: float,
        debug: bool,
        **kwargs: Any,
    ) -> Any:
        if token_file is not None:
            if token is not None:
                raise UsageLine("give --token or --token-file, not both")
            token = read_token_file(token_file)
        if token is None or not token.strip():
            given = "is empty" if token is not None else "is missing"
            raise UsageLine(
                f"the token {given}: pass --token-file PATH (or -: stdin), or set "
                "FABRIC_CHAT_TOKEN (mint one with 'fabric-chat token NAME')"
            )
        _checked_url("--server", server, ("http", "https"), "http://127.0.0.1:8787")
        _checked_url("--ws-url", ws_url, ("ws", "wss", "http", "https"), "ws://127.0.0.1:8787")
        connection = Connection(
            token=token.strip(),
            server=server.rstrip("/") if server else None,
            ws_url=ws_url or None,
            timeout=timeout,
            debug=debug,
        )
        return command(*args, connection=connection, **kwargs)

    options = [
        click.option(
            "--debug",
            is_flag=True,
            help="Show the full traceback when something fails.",
        ),
        click.option(
            "--timeout",
            default=30.0,
            show_default=True,
            type=click.FloatRange(min=0, min_open=True),
            help="Seconds to wait for each answer.",
        ),
        click.option(
            "--ws-url",
            envvar="FABRIC_CHAT_WS_URL",
            show_envvar=True,
            default=None,
            metavar="URL",
            help="WebSocket URL (default: the --server origin, else from the token).",
        ),
        click.option(
            "--server",
            "--url",
            "server",
            envvar="FABRIC_CHAT_URL",
            show_envvar=True,
            default=None,
            metavar="URL",
            help="HTTP origin of the server, e.g. http://127.0.0.1:8787 (default: from the token).",
        ),
        click.option(
            "--token-file",
            envvar="FABRIC_CHAT_TOKEN_FILE",
            show_envvar=True,
            default=None,
            metavar="PATH",
            help="Read the token from the first line of PATH, or of stdin for - "
            "(keeps it out of argv, which ps shows).",
        ),
        click.option(
            "--token",
            envvar="FABRIC_CHAT_TOKEN",
            show_envvar=True,
            default=None,
            metavar="SAT",
            help="Subscriber access token (mint one with 'fabric-chat token'); prefer the "
            "variable or --token-file: argv shows in ps.",
        ),
    ]
    decorated: Any = wrapper
    for option in options:
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def describe_error(exc: BaseException, *, address: str | None = None) -> str:
    """Return one line saying what went wrong, for an error the SDK raised.

    Args:
        exc: The error.
        address: The address id the command was given, if any (named in a 403 / 404 hint).
    """
    if isinstance(exc, fabric_chat.AuthenticationError):
        return f"the server refused the token ({exc}); check --token / FABRIC_CHAT_TOKEN"
    if address is not None and isinstance(
        exc, fabric_chat.PermissionDeniedError | fabric_chat.NotFoundError
    ):
        shown = address if len(address) <= 40 else address[:40] + "..."
        return f"the server answered {exc}; is {shown!r} an address id you can chat with?"
    if isinstance(exc, fabric_chat.APIStatusError):
        return f"the server answered {exc}"
    if isinstance(exc, fabric_chat.APITimeoutError):
        return f"timed out: {exc}"
    if isinstance(exc, fabric_chat.APIConnectionError):
        return f"cannot reach the server: {exc}"
    if isinstance(exc, fabric_chat.ProtocolError):
        return f"unexpected answer from the server: {exc}"
    if isinstance(exc, fabric_chat.InvalidArgumentError):
        return str(exc)
    return f"unexpected error: {exc}"


def run_with_client(
    connection: Connection,
    work: Callable[[AsyncClient], Awaitable[_T]],
    *,
    address: str | None = None,
) -> _T:
    """Open a client, run ``work(client)`` with it, close it, and return the result.

    Args:
        connection: Where and as whom.
        work: What to do with the client.
        address: The address id the command works on, for error messages.

    Raises:
        click.ClickException: Something failed (one line, exit status 1), unless ``--debug``.
        click.exceptions.Exit: Ctrl-C (exit status 130).
    """

    async def main() -> _T:
        async with connection.client() as client:
            return await work(client)

    # The SDK logs its retries and reconnects; a command reports what matters itself.
    logging.basicConfig(
        level=logging.DEBUG if connection.debug else logging.ERROR,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except (click.ClickException, click.exceptions.Exit):
        raise  # already one line, or a deliberate exit
    except fabric_chat.InvalidArgumentError as exc:
        # Refused before anything was sent: an argument or option of the command is wrong.
        if connection.debug:
            raise
        raise UsageLine(str(exc).replace(connection.token, "<token>")) from None
    except (fabric_chat.FabricChatError, OSError) as exc:
        if connection.debug:
            raise
        message = describe_error(exc, address=address)
        raise click.ClickException(message.replace(connection.token, "<token>")) from None
    except Exception as exc:  # a bug: still one line, and --debug shows where
        if connection.debug:
            raise
        message = f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)"
        raise click.ClickException(message.replace(connection.token, "<token>")) from None
