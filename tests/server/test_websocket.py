"""The WebSocket of PROTOCOL §7: connect, events, acks, pings, resume, disconnect, bad frames."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from fabric_chat._protocol import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RESUME_REFUSED,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_EVENT,
    SIGNALWIRE_PING,
    SIGNALWIRE_REAUTHENTICATE,
    TOKEN_ERROR,
)
from fabric_chat_server.testing import LocalServer

from .conftest import row_counts

CONNECT_KEYS = {"identity", "protocol", "ice_servers", "authorization"}
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_connect_result_shape_and_authorization_state(
    server: LocalServer, rpc_factory: Any
) -> None:
    token = await server.token("alice")
    rpc = await rpc_factory()
    answer = await rpc.connect(token)
    assert answer["id"] == "connect-1"
    result = answer["result"]
    assert set(result) == CONNECT_KEYS
    assert result["ice_servers"] == []
    authorization = result["authorization"]
    assert authorization["project_id"] == server.project_id
    assert result["protocol"].startswith(f"signalwire_{authorization['jti']}_")
    assert set(authorization["fabric_subscriber"]) == {
        "version",
        "expires_at",
        "subscriber_id",
        "application_id",
        "project_id",
        "space_id",
    }
    state = await rpc.receive()
    assert state["method"] == SIGNALWIRE_EVENT
    assert state["params"]["event_type"] == SIGNALWIRE_AUTHORIZATION_STATE
    assert isinstance(state["params"]["params"]["authorization_state"], str)


async def test_bad_token_gets_32002_and_close(server: LocalServer, rpc_factory: Any) -> None:
    rpc = await rpc_factory()
    answer = await rpc.connect("garbage.token.here")
    assert answer["error"]["code"] == TOKEN_ERROR
    closing = await rpc.ws.receive(timeout=5)
    assert closing.type in CLOSED


async def test_anything_before_connect_is_refused(server: LocalServer, rpc_factory: Any) -> None:
    rpc = await rpc_factory()
    await rpc.send(
        {"jsonrpc": "2.0", "id": "p", "method": SIGNALWIRE_PING, "params": {"timestamp": 1.0}}
    )
    answer = await rpc.receive()
    assert answer["id"] == "p"
    assert answer["error"]["code"] == INVALID_REQUEST
    closing = await rpc.ws.receive(timeout=5)
    assert closing.type in CLOSED


async def test_client_ping_is_answered_with_its_timestamp(
    server: LocalServer, rpc_factory: Any
) -> None:
    rpc = await rpc_factory()
    await rpc.connect(await server.token("alice"))
    await rpc.send(
        {
            "jsonrpc": "2.0",
            "id": "ping-1",
            "method": SIGNALWIRE_PING,
            "params": {"timestamp": 1708192187.5},
        }
    )
    answer = await rpc.receive_until(lambda f: f.get("id") == "ping-1")
    assert answer["result"] == {"timestamp": 1708192187.5}


async def test_server_pings_on_its_interval(rpc_for: Any) -> None:
    async with LocalServer(ping_interval=0.05) as server:
        rpc = await rpc_for(server)
        await rpc.connect(await server.token("alice"))
        ping = await rpc.receive_until(lambda f: f.get("method") == SIGNALWIRE_PING)
        assert isinstance(ping["params"]["timestamp"], float)
        await rpc.send(
            {
                "jsonrpc": "2.0",
                "id": ping["id"],
                "result": {"timestamp": ping["params"]["timestamp"]},
            }
        )
        # The next ping comes on the interval again.
        ping = await rpc.receive_until(lambda f: f.get("method") == SIGNALWIRE_PING)
        assert ping["params"]["timestamp"] > 0


async def test_two_subscribers_chat_over_the_socket(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    alice, bob, eve = [
        await server.token(n, display_name=n.title()) for n in ("alice", "bob", "eve")
    ]
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    alice_1, alice_2, bob_1, eve_1 = [await rpc_factory() for _ in range(4)]
    for rpc, token in ((alice_1, alice), (alice_2, alice), (bob_1, bob), (eve_1, eve)):
        assert "result" in await rpc.connect(token)
    sent = await api.send(alice, b_addr, "hello bob")
    for rpc, is_author, conversation_id in (
        (alice_1, True, b_addr),
        (alice_2, True, b_addr),
        (bob_1, False, a_addr),
    ):
        event = await rpc.event()
        params = event["params"]
        assert params["is_author"] is is_author
        assert params["params"]["id"] == sent["id"]
        assert params["params"]["conversation_id"] == conversation_id
        assert params["params"]["group_id"] == sent["group_id"]
        assert params["params"]["subtype"] == "chat"
    reply = await api.send(bob, a_addr, "hi alice")
    assert (await bob_1.event())["params"]["is_author"] is True
    assert (await alice_1.event())["params"]["params"]["text"] == "hi alice"
    assert reply["conversation_id"] == a_addr
    # Eve is no member: the first message event she sees is the one sent to her.
    to_eve = await api.send(alice, await server.address_of("eve"), "hello eve")
    first = await eve_1.event()
    assert first["params"]["params"]["id"] == to_eve["id"]


async def test_resume_redelivers_unacked_events_in_order(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    b_addr = await server.address_of("bob")
    first = await rpc_factory()
    await first.connect(bob)
    acked = await api.send(alice, b_addr, "acked")
    assert (await first.event(ack=True))["params"]["params"]["id"] == acked["id"]
    one = await api.send(alice, b_addr, "one")
    got = await first.event(ack=False)
    assert got["params"]["params"]["id"] == one["id"]
    protocol = first.protocol
    await first.close()
    two = await api.send(alice, b_addr, "two")  # sent while no socket is attached
    second = await rpc_factory()
    answer = await second.connect(bob, protocol=protocol)
    assert answer["result"]["protocol"] == protocol
    events = [await second.event(ack=True), await second.event(ack=True)]
    assert [e["params"]["params"]["id"] for e in events] == [one["id"], two["id"]]
    assert events[0]["id"] == got["id"]
    three = await api.send(alice, b_addr, "three")
    assert (await second.event())["params"]["params"]["id"] == three["id"]


async def test_resume_refused_for_unknown_foreign_or_expired(
    rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with LocalServer(resume_window=0.2, **store_options) as server:
        alice, bob = await server.token("alice"), await server.token("bob")
        rpc = await rpc_for(server)
        assert (await rpc.connect(alice, protocol="signalwire_nope_nope"))["error"][
            "code"
        ] == RESUME_REFUSED
        assert "result" in await rpc.connect(alice)  # the same socket may then connect fresh
        protocol = rpc.protocol
        await rpc.close()
        other = await rpc_for(server)
        assert (await other.connect(bob, protocol=protocol))["error"]["code"] == RESUME_REFUSED
        await asyncio.sleep(0.5)
        late = await rpc_for(server)
        assert (await late.connect(alice, protocol=protocol))["error"]["code"] == RESUME_REFUSED


async def test_disconnect_on_shutdown(server: LocalServer, rpc_factory: Any) -> None:
    rpc = await rpc_factory()
    await rpc.connect(await server.token("alice"))
    stopping = asyncio.create_task(server.stop())
    request = await rpc.receive_until(lambda f: f.get("method") == SIGNALWIRE_DISCONNECT)
    await rpc.send({"jsonrpc": "2.0", "id": request["id"], "result": {}})
    closing = await rpc.ws.receive(timeout=5)
    assert closing.type in CLOSED
    async with asyncio.timeout(5):
        await stopping
    await server.start()


async def test_reauthenticate(server: LocalServer, rpc_factory: Any) -> None:
    alice = await server.token("alice")
    rpc = await rpc_factory()
    await rpc.connect(alice)
    fresh = await server.token("alice")
    frames = [
        ("ok", fresh, None),
        ("bad", "not-a-token", TOKEN_ERROR),
        ("other", await server.token("bob"), TOKEN_ERROR),
    ]
    for request_id, token, code in frames:
        await rpc.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": SIGNALWIRE_REAUTHENTICATE,
                "params": {"authentication": {"project": server.project_id, "jwt_token": token}},
            }
        )
        answer = await rpc.receive_until(lambda f, rid=request_id: f.get("id") == rid)
        if code is None:
            assert answer["result"] == {}
        else:
            assert answer["error"]["code"] == code
    await rpc.send(
        {"jsonrpc": "2.0", "id": "still", "method": SIGNALWIRE_PING, "params": {"timestamp": 2.0}}
    )
    assert (await rpc.receive_until(lambda f: f.get("id") == "still"))["result"] == {
        "timestamp": 2.0
    }


async def test_bad_frames_get_jsonrpc_errors_and_change_nothing(
    rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with LocalServer(max_frame_bytes=2048, **store_options) as server:
        rpc = await rpc_for(server)
        await rpc.connect(await server.token("alice"))
        before = await row_counts(server)
        cases: list[tuple[Any, int]] = [
            ("{not json", PARSE_ERROR),
            ("[1, 2]", INVALID_REQUEST),
            ('{"id": "x", "method": "signalwire.ping"}', INVALID_REQUEST),
            ('{"jsonrpc": "2.0", "id": "x", "method": 5}', INVALID_REQUEST),
            (
                '{"jsonrpc": "2.0", "id": "x", "method": "nope.nothing", "params": {}}',
                METHOD_NOT_FOUND,
            ),
            (
                '{"jsonrpc": "2.0", "id": "x", "method": "signalwire.ping", '
                '"params": {"timestamp": "a"}}',
                INVALID_PARAMS,
            ),
            (
                '{"jsonrpc": "2.0", "id": "x", "method": "signalwire.connect", "params": {}}',
                INVALID_REQUEST,
            ),
            ('{"jsonrpc": "2.0", "id": "x"}', INVALID_REQUEST),
            ("x" * 4096, INVALID_REQUEST),
        ]
        for text, code in cases:
            await rpc.ws.send_str(text)
            answer = await rpc.receive_until(lambda f: "error" in f)
            assert answer["error"]["code"] == code, text[:80]
        await rpc.ws.send_bytes(b"\x00\x01")
        assert (await rpc.receive_until(lambda f: "error" in f))["error"]["code"] == INVALID_REQUEST
        await rpc.send(
            {
                "jsonrpc": "2.0",
                "id": "alive",
                "method": SIGNALWIRE_PING,
                "params": {"timestamp": 3.0},
            }
        )
        assert (await rpc.receive_until(lambda f: f.get("id") == "alive"))["result"] == {
            "timestamp": 3.0
        }
        assert await row_counts(server) == before


async def test_drop_sockets_cuts_every_socket(server: LocalServer, rpc_factory: Any) -> None:
    sockets = [await rpc_factory() for _ in range(2)]
    for rpc in sockets:
        await rpc.connect(await server.token("alice"))
    await server.drop_sockets()
    for rpc in sockets:
        for _ in range(5):
            message = await rpc.ws.receive(timeout=5)
            if message.type in (*CLOSED, aiohttp.WSMsgType.ERROR):
                break
        else:
            raise AssertionError("socket still open")


async def test_expired_token_disconnects_the_socket_unless_reauthenticated(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    alice = await server.token("alice")
    await server.token("bob")
    b_addr = await server.address_of("bob")
    bob_id = (await api.get("/api/fabric/subscriber/info", await server.token("bob")))[1]["id"]
    expires_at = int(time.time()) + 2  # valid for at least one more second
    short = server.state.token_service.mint(
        subscriber_id=bob_id,
        project_id=server.project_id,
        channel=server.ws_url,
        expires_at=expires_at,
    )
    expiring, renewed = await rpc_factory(), await rpc_factory()
    assert "result" in await expiring.connect(short)
    assert "result" in await renewed.connect(short)
    await renewed.send(
        {
            "jsonrpc": "2.0",
            "id": "re",
            "method": SIGNALWIRE_REAUTHENTICATE,
            "params": {
                "authentication": {
                    "project": server.project_id,
                    "jwt_token": await server.token("bob"),
                }
            },
        }
    )
    assert (await renewed.receive_until(lambda f: f.get("id") == "re"))["result"] == {}
    before = await api.send(alice, b_addr, "before expiry")
    assert (await expiring.event())["params"]["params"]["id"] == before["id"]
    request = await expiring.receive_until(lambda f: f.get("method") == SIGNALWIRE_DISCONNECT)
    assert time.time() >= expires_at
    await expiring.send({"jsonrpc": "2.0", "id": request["id"], "result": {}})
    closing = await expiring.ws.receive(timeout=5)
    assert closing.type in CLOSED
    # The reauthenticated socket outlived the first token and still gets events.
    after = await api.send(alice, b_addr, "after expiry")
    seen = await renewed.receive_until(
        lambda f: (
            f.get("method") == SIGNALWIRE_EVENT and f["params"]["params"].get("id") == after["id"]
        )
    )
    assert seen["params"]["params"]["text"] == "after expiry"


async def test_two_subscribers_chat_over_the_socket_in_the_group_dialect(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    alice_ws, bob_ws = await rpc_factory(), await rpc_factory()
    assert "result" in await alice_ws.connect(alice)
    assert "result" in await bob_ws.connect(bob)
    _, joined = await api.post(
        "/api/fabric/conversations/join",
        alice,
        {"from_fabric_address_id": a_addr, "fabric_address_ids": [b_addr, a_addr]},
    )
    group = joined["group_id"]
    turns = (
        (alice, a_addr, "from_fabric_address_id", "hi bob", bob_ws, a_addr),
        (bob, b_addr, "from_address_id", "hi alice", alice_ws, b_addr),
    )
    for token, own, sender_key, text, peer_ws, seen_as in turns:
        status, sent = await api.post(
            "/api/fabric/messages", token, {"group_id": group, sender_key: own, "text": text}
        )
        assert status == 201
        event = await peer_ws.receive_until(
            lambda f, sent_id=sent["id"]: (
                f.get("method") == SIGNALWIRE_EVENT and f["params"]["params"].get("id") == sent_id
            )
        )
        params = event["params"]
        assert params["is_author"] is False
        message = params["params"]
        assert (message["id"], message["group_id"], message["text"]) == (sent["id"], group, text)
        assert message["conversation_id"] == seen_as  # the address dialect's key, too
        assert message["from_fabric_address_id"] == message["from_address_id"] == own
    # Each author's own socket got its message back as the author.
    mine = await bob_ws.receive_until(
        lambda f: f.get("method") == SIGNALWIRE_EVENT and f["params"]["is_author"]
    )
    assert mine["params"]["params"]["text"] == "hi alice"


async def test_a_frame_over_the_socket_limit_closes_it_and_changes_nothing(
    rpc_for: Any, store_options: dict[str, Any]
) -> None:
    async with LocalServer(max_frame_bytes=1024, **store_options) as server:
        rpc = await rpc_for(server)
        await rpc.connect(await server.token("alice"))
        before = await row_counts(server)
        frame = '{"jsonrpc": "2.0", "id": "big", "method": "signalwire.ping", "params": {"x": "'
        await rpc.ws.send_str(frame + "y" * (2 * 1024 * 1024) + '"}}')
        for _ in range(5):
            message = await rpc.ws.receive(timeout=5)
            if message.type in (*CLOSED, aiohttp.WSMsgType.ERROR):
                break
        else:
            raise AssertionError("the socket stayed open")
        assert await row_counts(server) == before
        fresh = await rpc_for(server)
        assert "result" in await fresh.connect(await server.token("alice"))
