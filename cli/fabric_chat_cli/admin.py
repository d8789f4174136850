"""``fabric-chat token`` and ``fabric-chat room``: project-authenticated calls to a server."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import click
import msgspec

from ._connection import OneLineCommand, UsageLine

__all__ = ["COMMANDS", "project_post", "room", "token"]


async def project_post(
    server: str, path: str, body: dict[str, Any], *, project_id: str, project_token: str
) -> dict[str, Any]:
    """POST ``body`` to a project route and return the decoded answer.

    Raises:
        click.ClickException: The server refused, or could not be reached.
    """
    pair = f"{project_id}:{project_token}".encode()
    headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(server.rstrip("/") + path, json=body, headers=headers) as response,
        ):
            payload = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise click.ClickException(f"cannot reach {server}: {exc}") from None
    try:
        decoded: dict[str, Any] = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        decoded = {}
    if status >= 400:
        errors = decoded.get("errors") or [{}]
        message = errors[0].get("message", "") if isinstance(errors[0], dict) else ""
        raise click.ClickException(f"the server answered {status}: {message}")
    return decoded


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
    body: dict[str, Any] = {"reference": reference}
    if display_name is not None:
        body["display_name"] = display_name
    answer = asyncio.run(
        project_post(
            server,
            "/api/fabric/subscribers/tokens",
            body,
            project_id=project_id,
            project_token=project_token,
        )
    )
    click.echo(answer["token"])


@click.command(cls=OneLineCommand)
@click.argument("name")
@click.option("--display-name", default=None, help="The name shown to people.")
@_project_options
def room(
    name: str, display_name: str | None, server: str, project_id: str, project_token: str
) -> None:
    """Create (or find) the room address NAME and print its address id."""
    body: dict[str, Any] = {"name": name, "type": "room"}
    if display_name is not None:
        body["display_name"] = display_name
    answer = asyncio.run(
        project_post(
            server,
            "/api/fabric/addresses",
            body,
            project_id=project_id,
            project_token=project_token,
        )
    )
    click.echo(answer["id"])


COMMANDS = (token, room)
