"""``fabric-chat token`` and ``fabric-chat room``: project-authenticated calls to a server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from fabric_chat import APIStatusError, FabricChatError
from fabric_chat.models import CreateAddressRequest, CreateSubscriberTokenRequest
from fabric_chat.project import ProjectClient

from ._connection import OneLineCommand, UsageLine

__all__ = ["COMMANDS", "room", "token"]

T = TypeVar("T")


async def _project_call(
    server: str,
    call: Callable[[ProjectClient], Awaitable[T]],
    *,
    project_id: str,
    project_token: str,
) -> T:
    """Run one call of the generated project client against ``server``.

    Raises:
        click.ClickException: The server refused, or could not be reached.
    """
    try:
        async with ProjectClient(
            project_id=project_id, project_token=project_token, base_url=server
        ) as project:
            return await call(project)
    except APIStatusError as exc:
        raise click.ClickException(f"the server answered {exc.status}: {exc.message}") from None
    except FabricChatError as exc:
        raise click.ClickException(f"cannot reach {server}: {exc}") from None


def _http_url(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise UsageLine(
            "--server must be a URL starting with http:// or https://, such as "
            f"http://127.0.0.1:8787; not {value!r}",
            ctx.command_path,
        )
    return value


def _project_options(command: Any) -> Any:
    command = click.option(
        "--project-token",
        envvar="FABRIC_CHAT_PROJECT_TOKEN",
        required=True,
        help="Project API token; prefer the variable: argv shows in ps.",
    )(command)
    command = click.option(
        "--project-id", envvar="FABRIC_CHAT_PROJECT_ID", required=True, help="Project id."
    )(command)
    command = click.option(
        "--server",
        envvar=["FABRIC_CHAT_URL", "FABRIC_CHAT_SERVER"],
        default="http://127.0.0.1:8787",
        show_default=True,
        callback=_http_url,
        help="Base URL of the server.",
    )(command)
    return command


@click.command(cls=OneLineCommand)
@click.argument("reference")
@click.option("--display-name", default=None, help="The name shown to people.")
@_project_options
def token(
    reference: str, display_name: str | None, server: str, project_id: str, project_token: str
) -> None:
    """Mint a subscriber access token for REFERENCE (creating the subscriber) and print it."""
    body = CreateSubscriberTokenRequest(reference=reference, display_name=display_name)
    answer = asyncio.run(
        _project_call(
            server,
            lambda project: project.create_subscriber_token(body),
            project_id=project_id,
            project_token=project_token,
        )
    )
    click.echo(answer.token)


@click.command(cls=OneLineCommand)
@click.argument("name")
@click.option("--display-name", default=None, help="The name shown to people.")
@_project_options
def room(
    name: str, display_name: str | None, server: str, project_id: str, project_token: str
) -> None:
    """Create (or find) the room address NAME and print its address id."""
    body = CreateAddressRequest(name=name, type="room", display_name=display_name)
    answer = asyncio.run(
        _project_call(
            server,
            lambda project: project.create_address(body),
            project_id=project_id,
            project_token=project_token,
        )
    )
    click.echo(answer.id)


COMMANDS = (token, room)
