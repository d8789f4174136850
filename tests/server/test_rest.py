"""Every REST route of PROTOCOL §4, both dialects, against the real app in-process."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fabric_chat_server.testing import LocalServer

from .conftest import Api, row_counts

MESSAGE_KEYS = {
    "id",
    "group_id",
    "conversation_id",
    "from_fabric_address_id",
    "from_address_id",
    "user_id",
    "user_name",
    "ts",
    "type",
    "subtype",
    "kind",
    "text",
    "metadata",
    "details",
    "hidden",
    "conversation_name",
}


async def test_subscriber_info_lists_own_address_first(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice", display_name="Alice")
    status, body = await api.get("/api/fabric/subscriber/info", alice)
    assert status == 200
    assert body["display_name"] == "Alice"
    assert body["fabric_addresses"][0]["id"] == await server.address_of("alice")
    address = body["fabric_addresses"][0]
    assert address["type"] == "subscriber"
    assert address["locked"] is False
    assert set(address["channels"]) >= {"messaging", "audio", "video"}


async def test_token_mints_subscriber_once_and_updates_display_name(
    server: LocalServer, api: Any
) -> None:
    first = await server.token("carol")
    second = await server.token("carol", display_name="Carol C")
    assert first != second
    _, one = await api.get("/api/fabric/subscriber/info", first)
    _, two = await api.get("/api/fabric/subscriber/info", second)
    assert one["id"] == two["id"]
    assert two["display_name"] == "Carol C"


async def test_address_directory_and_lookup(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    room = await server.create_room("general", display_name="General")
    assert await server.create_room("general") == room
    status, page = await api.get("/api/fabric/addresses", alice)
    assert status == 200
    ids = {item["id"] for item in page["data"]}
    assert {room, await server.address_of("alice")} <= ids
    status, one = await api.get(f"/api/fabric/addresses/{room}", alice)
    assert (status, one["type"], one["display_name"]) == (200, "room", "General")
    status, missing = await api.get("/api/fabric/addresses/nope", alice)
    assert status == 404
    assert missing["errors"][0]["code"] == "not_found"


async def test_address_dialect_join_send_history(server: LocalServer, api: Any) -> None:
    alice, bob = (
        await server.token("alice", display_name="Alice"),
        await server.token("bob", display_name="Bob"),
    )
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    status, joined = await api.post(
        "/api/fabric/conversations/join", alice, {"conversation_id": b_addr}
    )
    assert status == 200
    assert joined["from_fabric_address_id"] == a_addr
    assert set(joined["fabric_address_ids"]) == {a_addr, b_addr}
    again = await api.post("/api/fabric/conversations/join", alice, {"conversation_id": b_addr})
    assert again == (200, joined)
    sent = await api.send(alice, b_addr, "hello bob")
    assert set(sent) == MESSAGE_KEYS
    assert sent["conversation_id"] == b_addr
    assert sent["kind"] is None
    assert (sent["type"], sent["subtype"], sent["hidden"]) == ("message", "chat", False)
    assert sent["from_address_id"] == sent["from_fabric_address_id"] == a_addr
    # Bob sees the same message with the conversation keyed by Alice's address.
    status, page = await api.get(f"/api/fabric/conversations/{a_addr}/messages", bob)
    assert status == 200
    [seen] = page["data"]
    assert (seen["id"], seen["conversation_id"], seen["user_name"]) == (sent["id"], a_addr, "Alice")
    assert seen["group_id"] == joined["group_id"]


async def test_group_dialect_join_send_history(server: LocalServer, api: Any) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    status, joined = await api.post(
        "/api/fabric/conversations/join",
        alice,
        {"from_fabric_address_id": a_addr, "fabric_address_ids": [b_addr, a_addr]},
    )
    assert status == 200
    group = joined["group_id"]
    _, bob_join = await api.post(
        "/api/fabric/conversations/join",
        bob,
        {"from_fabric_address_id": b_addr, "fabric_address_ids": [a_addr, b_addr]},
    )
    assert bob_join["group_id"] == group
    status, sent = await api.post(
        "/api/fabric/messages",
        alice,
        {
            "group_id": group,
            "from_fabric_address_id": a_addr,
            "text": "hi",
            "metadata": {"k": 1},
            "details": {"d": True},
        },
    )
    assert status == 201
    assert (sent["metadata"], sent["details"]) == ({"k": 1}, {"d": True})
    status, _other = await api.post(
        "/api/fabric/messages", bob, {"group_id": group, "from_address_id": b_addr, "text": "yo"}
    )
    assert status == 201
    status, page = await api.get(f"/api/fabric/conversations/{group}/messages", bob)
    assert [m["text"] for m in page["data"]] == ["yo", "hi"]
    assert {m["conversation_id"] for m in page["data"]} == {a_addr}
    status, mine = await api.get("/api/fabric/messages", alice)
    assert [m["text"] for m in mine["data"]] == ["yo", "hi"]
    assert {m["conversation_id"] for m in mine["data"]} == {b_addr}


async def test_rooms_any_subscriber_may_join(server: LocalServer, api: Any) -> None:
    room = await server.create_room("lobby")
    alice, bob = await server.token("alice"), await server.token("bob")
    status, _ = await api.get(f"/api/fabric/conversations/{room}/messages", bob)
    assert status == 403
    await api.send(alice, room, "first")
    _, joined = await api.post("/api/fabric/conversations/join", bob, {"conversation_id": room})
    status, page = await api.get(f"/api/fabric/conversations/{joined['group_id']}/messages", bob)
    assert status == 200
    assert [(m["text"], m["conversation_id"]) for m in page["data"]] == [("first", room)]


async def test_list_conversations(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    await server.token("bob", display_name="Bob")
    b_addr = await server.address_of("bob")
    room = await server.create_room("team", display_name="Team")
    await api.send(alice, b_addr, "one")
    await api.send(alice, room, "two")
    status, page = await api.get("/api/fabric/conversations", alice)
    assert status == 200
    assert [(c["address_id"], c["name"]) for c in page["data"]] == [(room, "Team"), (b_addr, "Bob")]
    first = page["data"][0]
    assert set(first) >= {
        "id",
        "group_id",
        "address_id",
        "name",
        "metadata",
        "created_at",
        "last_message_at",
        "from_fabric_address_id",
    }
    assert first["from_fabric_address_id"] == await server.address_of("alice")


async def test_history_with_a_new_peer_is_empty(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    await server.token("dave")
    status, page = await api.get(
        f"/api/fabric/conversations/{await server.address_of('dave')}/messages", alice
    )
    assert (status, page["data"]) == (200, [])
    assert "next" not in page["links"]
    assert "prev" not in page["links"]


async def test_idempotent_send_replays_the_same_message(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    await server.token("bob")
    b_addr = await server.address_of("bob")
    body = {"conversation_id": b_addr, "text": "once"}
    headers = {"Idempotency-Key": "k-1"}
    first = await api.post("/api/fabric/messages", alice, body, headers=headers)
    before = await row_counts(server)
    second = await api.post("/api/fabric/messages", alice, body, headers=headers)
    assert first[0] == second[0] == 201
    assert first[1]["id"] == second[1]["id"]
    assert await row_counts(server) == before
    third = await api.post("/api/fabric/messages", alice, body, headers={"Idempotency-Key": "k-2"})
    assert third[1]["id"] != first[1]["id"]


async def test_an_expired_idempotency_key_is_gone_and_a_live_one_still_dedupes(
    server: LocalServer, api: Any
) -> None:
    alice = await server.token("alice")
    await server.token("bob")
    body = {"conversation_id": await server.address_of("bob"), "text": "once"}

    async def send(key: str) -> str:
        status, sent = await api.post(
            "/api/fabric/messages", alice, body, headers={"Idempotency-Key": key}
        )
        assert status == 201, sent
        return str(sent["id"])

    old = await send("k-old")
    await asyncio.sleep(0.01)
    cutoff = time.time()
    await asyncio.sleep(0.01)
    live = await send("k-live")
    assert (await row_counts(server))["idempotency_keys"] == 2
    assert await server.state.store.expire_idempotency_keys(cutoff) == 1
    assert (await row_counts(server))["idempotency_keys"] == 1
    assert await send("k-live") == live  # still dedupes
    assert await send("k-old") != old  # gone: a new message, under a new key
    assert (await row_counts(server))["idempotency_keys"] == 2


async def test_the_server_expires_idempotency_keys_older_than_their_lifetime(
    store_options: dict[str, Any], session: Any
) -> None:
    options = {**store_options, "idempotency_key_ttl": 0.2, "resume_window": 1.0}
    async with LocalServer(**options) as server:
        api = Api(server, session)
        alice = await server.token("alice")
        await server.token("bob")
        body = {"conversation_id": await server.address_of("bob"), "text": "once"}
        headers = {"Idempotency-Key": "k-1"}
        status, _ = await api.post("/api/fabric/messages", alice, body, headers=headers)
        assert status == 201
        for _ in range(100):  # the keeper runs every 0.1 s here (resume_window / 10)
            if (await row_counts(server))["idempotency_keys"] == 0:
                break
            await asyncio.sleep(0.05)
        assert (await row_counts(server))["idempotency_keys"] == 0


async def test_every_sender_resolves_in_the_directory(server: LocalServer, api: Any) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    await api.send(alice, await server.address_of("bob"), "x")
    await api.send(bob, await server.address_of("alice"), "y")
    _, page = await api.get("/api/fabric/messages", alice)
    for message in page["data"]:
        status, _ = await api.get(
            f"/api/fabric/addresses/{message['from_fabric_address_id']}", alice
        )
        assert status == 200


async def test_token_header_names_the_public_url_when_given() -> None:
    import jwt

    async with LocalServer(public_url="wss://chat.example.com") as server:
        header = jwt.get_unverified_header(await server.token("alice"))
        assert (header["typ"], header["ch"], header["alg"]) == (
            "SAT",
            "wss://chat.example.com",
            "HS256",
        )
    async with LocalServer() as server:
        assert jwt.get_unverified_header(await server.token("alice"))["ch"] == server.ws_url


async def test_token_header_names_the_bound_socket_whatever_the_host_header(
    server: LocalServer, api: Any
) -> None:
    """Without a public URL, ``ch`` is ``ws://HOST:PORT`` of the bound socket (port 0: the real
    port), never the request's ``Host`` header, which the caller chooses."""
    import jwt

    assert server.config.port == 0
    assert server.port != 0
    for host in ("evil.example.com", "evil.example.com:1234", f"localhost:{server.port}"):
        status, body = await api.post(
            "/api/fabric/subscribers/tokens",
            None,
            {"reference": "alice"},
            basic=True,
            headers={"Host": host},
        )
        assert status == 200, body
        assert jwt.get_unverified_header(body["token"])["ch"] == f"ws://127.0.0.1:{server.port}"
