"""``fabric-chat whoami | join | send | history | tail``: chat from the shell, through the SDK.

Every command here talks to the server only through :class:`fabric_chat.AsyncClient`, so it works
against the local server and the real service alike. The server URL and the token come from
``--server`` / ``--token`` or ``FABRIC_CHAT_URL`` / ``FABRIC_CHAT_TOKEN``; with no URL the SDK
derives it from the token.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import click
from fabric_chat import AsyncClient, AuthenticationError, ConversationChatMessage, Page

from ._connection import Connection, OneLineCommand, connection_options, run_with_client
from ._output import (
    HistoryProgress,
    echo_line,
    format_message,
    message_json,
    printable,
    to_json_line,
)

__all__ = ["COMMANDS", "history", "join", "send", "tail", "whoami"]


def _json_object(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})") from None
    if not isinstance(decoded, dict):
        raise click.BadParameter("must be a JSON object, e.g. '{\"priority\": 1}'")
    return decoded


_ADDRESS = click.argument("address", metavar="ADDRESS")


@click.command(cls=OneLineCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the subscriber info as JSON.")
@click.option(
    "--address",
    "address_only",
    is_flag=True,
    help="Print only your own address id (handy in scripts).",
)
@connection_options
def whoami(as_json: bool, address_only: bool, connection: Connection) -> None:
    """Show the subscriber the token belongs to, and its addresses."""

    async def work(client: AsyncClient) -> None:
        info = await client.get_subscriber_info()
        if as_json:
            echo_line(to_json_line(info))
            return
        if address_only:
            if not info.fabric_addresses:
                raise click.ClickException("this subscriber has no address")
            echo_line(info.fabric_addresses[0].id)
            return
        echo_line(
            f"subscriber  {printable(info.id)}  {printable(info.display_name or '')}".rstrip()
        )
        for address in info.fabric_addresses:
            label = printable(address.display_name or address.name)
            echo_line(f"address     {printable(address.id)}  {label} ({printable(address.type)})")

    run_with_client(connection, work)


@click.command(cls=OneLineCommand)
@_ADDRESS
@connection_options
def join(address: str, connection: Connection) -> None:
    """Join the conversation with ADDRESS (an address id).

    Nothing is sent; joining again changes nothing.
    """

    async def work(client: AsyncClient) -> None:
        joined = await client.chat.join(address_id=address)
        members = len(joined.fabric_address_ids)
        echo_line(f"joined conversation {printable(joined.group_id)} ({members} members)")

    run_with_client(connection, work, address=address)


@click.command(cls=OneLineCommand)
@_ADDRESS
@click.argument("text")
@click.option(
    "--metadata",
    callback=_json_object,
    metavar="JSON",
    help="A JSON object sent along with the message.",
)
@click.option(
    "--details",
    callback=_json_object,
    metavar="JSON",
    help="A JSON object of extra event details (for custom UIs).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the sent message as JSON, in the shape of history --json and tail --json.",
)
@connection_options
def send(
    address: str,
    text: str,
    metadata: dict[str, Any] | None,
    details: dict[str, Any] | None,
    as_json: bool,
    connection: Connection,
) -> None:
    """Send TEXT to ADDRESS (an address id); a TEXT of - reads it from stdin.

    The conversation is created when it does not exist yet.
    """
    if text == "-":
        text = sys.stdin.read().rstrip("\n")

    async def work(client: AsyncClient) -> None:
        conversation = await client.chat.send_message(
            address_id=address, text=text, metadata=metadata, details=details
        )
        message = conversation.last_message
        if as_json:
            if message is None:
                raise click.ClickException("the server's answer holds no message")
            echo_line(message_json(message))
            return
        message_id = message.id if message is not None else "?"
        echo_line(f"sent {printable(message_id)} to {printable(conversation.name or address)}")

    run_with_client(connection, work, address=address)


@click.command(cls=OneLineCommand)
@_ADDRESS
@click.option(
    "--page-size",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Messages per page.",
)
@click.option("--all", "walk_all", is_flag=True, help="Walk every page, not just the newest.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr while --all walks the pages "
    "(default: only when stderr is a terminal).",
)
@connection_options
def history(
    address: str,
    page_size: int,
    walk_all: bool,
    as_json: bool,
    progress: bool | None,
    connection: Connection,
) -> None:
    """Print the chat messages exchanged with ADDRESS, newest first.

    Without --all only the newest page is printed; --all follows next_page() to the oldest.
    """

    def line(message: ConversationChatMessage) -> str:
        return message_json(message) if as_json else format_message(message)

    async def work(client: AsyncClient) -> None:
        page: Page[ConversationChatMessage] | None
        page = await client.chat.get_messages(address_id=address, page_size=page_size)
        if not walk_all:
            for message in page:
                echo_line(line(message))
            if not as_json and not page.data:
                click.echo("(no messages yet)", err=True)
            elif not as_json and page.has_next:
                click.echo("(older messages exist: add --all to see every page)", err=True)
            return
        shown = 0
        with HistoryProgress(progress) as bar:
            while page is not None:
                for message in page:
                    bar.echo(line(message))
                shown += len(page)
                bar.advance(len(page), more=page.has_next)
                page = await page.next_page()
        if not as_json and shown == 0:
            click.echo("(no messages yet)", err=True)

    run_with_client(connection, work, address=address)


@click.command(cls=OneLineCommand)
@_ADDRESS
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
@click.option(
    "--max-messages",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Exit after N messages (default: run until Ctrl-C).",
)
@connection_options
def tail(address: str, as_json: bool, max_messages: int | None, connection: Connection) -> None:
    """Print new messages with ADDRESS as they arrive, until Ctrl-C.

    Once listening it says so on stderr, as it does when the connection drops and comes back
    (missed messages are fetched then). Ctrl-C (SIGINT) or SIGTERM closes the connection
    and exits with status 0. When the server stops accepting the token (it expired or was
    revoked) the connection cannot come back: tail exits with one error line and status 1.
    """

    async def work(client: AsyncClient) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        received = 0

        def show(message: ConversationChatMessage) -> None:
            nonlocal received
            if stop.is_set():
                return
            try:
                echo_line(message_json(message) if as_json else format_message(message))
            except click.exceptions.Exit:  # stdout closed: nobody is reading any more
                stop.set()
                return
            received += 1
            if max_messages is not None and received >= max_messages:
                stop.set()

        lost = False

        def report(state: str) -> None:
            nonlocal lost
            if state == "failed":  # the server refused the token: the socket stays down
                stop.set()
            elif state == "reconnecting" and not lost:
                lost = True
                click.echo("connection lost; reconnecting...", err=True)
            elif state == "connected" and lost:
                lost = False
                click.echo("reconnected", err=True)

        stop_reporting = client.on_state_change(report)
        try:
            subscription = await client.chat.subscribe(address_id=address, on_message=show)
            subscription.add_cancel_callback(stop.set)  # it ends on its own when refused
            click.echo(f"listening for messages with {address} (Ctrl-C to stop)", err=True)
            try:
                await stop.wait()
            finally:
                subscription.cancel()
            error = subscription.error
            if error is not None:
                raise error
            if client.state == "failed":
                raise AuthenticationError("the token was refused on reconnect", status=401)
        finally:
            stop_reporting()
            for sig in signals:
                loop.remove_signal_handler(sig)

    run_with_client(connection, work, address=address)


COMMANDS = (whoami, join, send, history, tail)
