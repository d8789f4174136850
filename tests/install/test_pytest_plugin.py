"""The ``chat_server`` fixture that ``fabric-chat[test]`` registers with pytest (pytest11)."""

from __future__ import annotations

import asyncio
import importlib.metadata

from fabric_chat import AsyncClient, Client
from fabric_chat_server.testing import ThreadedServer


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert {p.name: p.value for p in points}["fabric_chat"] == "fabric_chat_server.pytest_plugin"


def test_chat_server_is_a_running_server_for_this_test(chat_server: ThreadedServer) -> None:
    token = chat_server.token("alice", display_name="Alice")

    async def whoami() -> str | None:
        async with AsyncClient(token=token) as client:
            return (await client.get_subscriber_info()).display_name

    assert asyncio.run(whoami()) == "Alice"
    with Client(token=token) as client:  # the sync client, as the plugin's docstring shows
        assert client.get_subscriber_info().display_name == "Alice"
    assert chat_server.base_url.startswith("http://127.0.0.1:")
