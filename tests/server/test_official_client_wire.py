"""What the current official client (``@signalwire/js`` 4.0) needs of the socket, found by
running it (``tests/browser``), pinned here on the raw wire:

- every ``conversation.*`` event's ``event_channel`` contains the receiving session's
  ``protocol``: the client drops any other event as stale, live and replayed alike;
- ``subscriber.online`` (sent after every connect) and ``subscriber.offline`` are answered with
  an empty result: the client reports a refused ``subscriber.online`` as bad credentials.

And what both generations need of the directory: ``GET /api/fabric/addresses?name=NAME`` answers
the addresses called exactly that (3.28's ``address.getAddress({name})`` and 4.0's
``directory.findAddressIdByURI(name)`` take the first item; the name used to be ignored, so
they silently got the directory's first address instead).
"""

from __future__ import annotations

from typing import Any

import pytest
from fabric_chat._protocol import (
    CONVERSATION_MESSAGE,
    METHOD_NOT_FOUND,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SUBSCRIBER_OFFLINE,
    SUBSCRIBER_ONLINE,
)
from fabric_chat_server.testing import LocalServer

from .conftest import Api


@pytest.mark.sqlite_only
async def test_event_channels_name_the_receiving_sessions_protocol_live_and_replayed(
    api: Api, rpc_factory: Any, server: LocalServer
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    bob_address = await server.address_of("bob")
    first, second = await rpc_factory(), await rpc_factory()
    for socket in (first, second):  # two sessions of one subscriber
        assert "result" in await socket.connect(alice)
        state = await socket.event(SIGNALWIRE_AUTHORIZATION_STATE)
        assert state["params"]["event_channel"] == socket.protocol
    await api.send(bob, await server.address_of("alice"), "live")
    for socket in (first, second):
        event = await socket.event(CONVERSATION_MESSAGE)
        assert event["params"]["event_channel"] == socket.protocol
        assert event["params"]["params"]["text"] == "live"  # the nested params are there
    assert first.protocol != second.protocol

    # A message missed while away is replayed on resume with the same session's channel.
    protocol = first.protocol
    await first.close()
    await api.send(alice, bob_address, "missed")
    await second.event(CONVERSATION_MESSAGE)
    again = await rpc_factory()
    assert (await again.connect(alice, protocol=protocol))["result"]["protocol"] == protocol
    replayed = await again.event(CONVERSATION_MESSAGE)
    assert replayed["params"]["params"]["text"] == "missed"
    assert replayed["params"]["event_channel"] == protocol


@pytest.mark.sqlite_only
async def test_subscriber_online_and_offline_are_answered_with_an_empty_result(
    rpc_factory: Any, server: LocalServer
) -> None:
    socket = await rpc_factory()
    assert "result" in await socket.connect(await server.token("alice"))
    for request_id, method, params in (
        ("on", SUBSCRIBER_ONLINE, {}),
        ("off", SUBSCRIBER_OFFLINE, {}),
        ("on-extra", SUBSCRIBER_ONLINE, {"something": "new"}),  # forgiving on input
    ):
        await socket.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        answer = await socket.receive_until(lambda f, rid=request_id: f.get("id") == rid)
        assert answer == {"jsonrpc": "2.0", "id": request_id, "result": {}}
    # An unknown method is still refused, and the socket stays open.
    await socket.send({"jsonrpc": "2.0", "id": "x", "method": "subscriber.elsewhere", "params": {}})
    refused = await socket.receive_until(lambda f: f.get("id") == "x")
    assert refused["error"]["code"] == METHOD_NOT_FOUND
    await socket.send({"jsonrpc": "2.0", "id": "y", "method": SUBSCRIBER_ONLINE, "params": {}})
    assert (await socket.receive_until(lambda f: f.get("id") == "y"))["result"] == {}


@pytest.mark.sqlite_only
async def test_subscriber_online_before_connect_is_refused(
    rpc_factory: Any, server: LocalServer
) -> None:
    socket = await rpc_factory()
    await socket.send({"jsonrpc": "2.0", "id": "early", "method": SUBSCRIBER_ONLINE, "params": {}})
    answer = await socket.receive_until(lambda f: f.get("id") == "early")
    assert "error" in answer


async def test_addresses_are_looked_up_by_exact_name(api: Api, server: LocalServer) -> None:
    alice = await server.token("alice")
    await server.token("general")  # a subscriber whose own address is called "general" too
    for name in ("lobby", "general", "zebra"):
        await server.create_room(name, display_name=name.title())
    room = await server.create_room("general")
    subscriber = await server.address_of("general")

    status, page = await api.get("/api/fabric/addresses?name=general", alice)
    assert status == 200
    assert [item["id"] for item in page["data"]] == [room, subscriber]  # the shared one first
    assert page["data"][0]["type"] == "room"
    assert "next" not in page["links"]
    assert page["links"]["self"].endswith("/api/fabric/addresses?name=general")
    status, page = await api.get("/api/fabric/addresses?name=general&page_size=1", alice)
    assert [item["id"] for item in page["data"]] == [room]
    for absent in ("General", "gen", "general ", "nobody", "%C3%A9", "%FF", "%ED%A0%80", "a%00b"):
        status, page = await api.get(f"/api/fabric/addresses?name={absent}", alice)
        assert status == 200, absent
        assert page["data"] == [], absent
    status, body = await api.get("/api/fabric/addresses?name=" + "x" * 300, alice)
    assert status == 422
    assert body["errors"][0]["attribute"] == "name"
    status, body = await api.get("/api/fabric/addresses?name=general&page_size=0", alice)
    assert status == 422
    # Without a name: the whole directory, as before (page_size honoured, a next page).
    status, page = await api.get("/api/fabric/addresses?page_size=2", alice)
    assert status == 200
    assert len(page["data"]) == 2
    assert "next" in page["links"]
