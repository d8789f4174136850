"""Only members get in, tokens are checked, and bad input changes nothing (§4, issue 3 (5), (6))."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import pytest
from fabric_chat._protocol import SIGNALWIRE_REAUTHENTICATE, TOKEN_ERROR
from fabric_chat_server.auth import TokenError
from fabric_chat_server.callers import verify_subscriber_token
from fabric_chat_server.testing import LocalServer

from .conftest import row_counts


async def _pair(server: LocalServer, api: Any) -> dict[str, Any]:
    alice, bob, eve = [await server.token(n) for n in ("alice", "bob", "eve")]
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    _, joined = await api.post("/api/fabric/conversations/join", alice, {"conversation_id": b_addr})
    await api.send(alice, b_addr, "secret")
    return {
        "alice": alice,
        "bob": bob,
        "eve": eve,
        "a": a_addr,
        "b": b_addr,
        "group": joined["group_id"],
    }


async def test_outsider_can_neither_read_post_nor_join_by_group(
    server: LocalServer, api: Any
) -> None:
    s = await _pair(server, api)
    before = await row_counts(server)
    status, body = await api.get(f"/api/fabric/conversations/{s['group']}/messages", s["eve"])
    assert status == 403
    assert "secret" not in str(body)
    status, _ = await api.post(
        "/api/fabric/messages", s["eve"], {"group_id": s["group"], "text": "hi"}
    )
    assert status == 403
    status, _ = await api.post(
        "/api/fabric/conversations/join", s["eve"], {"conversation_id": s["group"]}
    )
    assert status == 403
    status, page = await api.get("/api/fabric/messages", s["eve"])
    assert (status, page["data"]) == (200, [])
    status, _ = await api.post(
        "/api/fabric/messages",
        s["eve"],
        {"group_id": s["group"], "from_fabric_address_id": s["a"], "text": "x"},
    )
    assert status == 403
    assert await row_counts(server) == before


async def test_cannot_send_from_someone_elses_address(server: LocalServer, api: Any) -> None:
    s = await _pair(server, api)
    status, body = await api.post(
        "/api/fabric/messages",
        s["bob"],
        {"group_id": s["group"], "from_fabric_address_id": s["a"], "text": "x"},
    )
    assert status == 403
    assert body["errors"][0]["attribute"] == "from_fabric_address_id"


async def test_joining_only_yourself_is_422(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    a_addr = await server.address_of("alice")
    before = await row_counts(server)
    for body in (
        {"from_fabric_address_id": a_addr, "fabric_address_ids": [a_addr]},
        {"conversation_id": a_addr},
        {},
    ):
        status, answer = await api.post("/api/fabric/conversations/join", alice, body)
        assert status == 422, body
        assert answer["errors"][0]["type"] == "validation_error"
    assert await row_counts(server) == before


def _forge(server: LocalServer, **changes: Any) -> str:
    state = server.state
    token = state.token_service.mint(
        subscriber_id="x", project_id=server.project_id, channel="ws://x"
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    header = {"typ": "SAT", "ch": "ws://x"}
    header.update(changes.pop("header", {}))
    claims.update(changes)
    return jwt.encode(claims, state.token_service._key, algorithm="HS256", headers=header)


def _bad_tokens(server: LocalServer, alice: str) -> dict[str, str]:
    """One token of each kind the server must refuse, all for Alice's subscriber id."""
    sub = jwt.decode(alice, options={"verify_signature": False})["sub"]
    head, payload, signature = alice.split(".")
    other_key = jwt.encode(
        jwt.decode(alice, options={"verify_signature": False}),
        "another-secret-that-is-long-enough-32b",
        algorithm="HS256",
        headers={"typ": "SAT"},
    )
    return {
        "garbage": "not-a-jwt",
        "tampered": f"{head}.{payload}.{signature[:-4]}AAAA",
        "other secret": other_key,
        "expired": _forge(server, sub=sub, exp=int(time.time()) - 10),
        "wrong typ": _forge(server, sub=sub, header={"typ": "JWT"}),
        "unknown subscriber": _forge(server, sub="nobody"),
        "other project": _forge(server, sub=sub, project_id="another-project"),
    }


async def test_bad_tokens_get_32002_on_the_socket_and_change_nothing(
    server: LocalServer, rpc_factory: Any
) -> None:
    alice = await server.token("alice")
    before = await row_counts(server)
    for name, token in _bad_tokens(server, alice).items():
        rpc = await rpc_factory()
        answer = await rpc.connect(token)
        assert answer["error"]["code"] == TOKEN_ERROR, name
        assert token not in str(answer)
    # And on a live socket, a reauthenticate with any of them is refused the same way.
    rpc = await rpc_factory()
    assert "result" in await rpc.connect(alice)
    for name, token in _bad_tokens(server, alice).items():
        await rpc.send(
            {
                "jsonrpc": "2.0",
                "id": name,
                "method": SIGNALWIRE_REAUTHENTICATE,
                "params": {"authentication": {"project": server.project_id, "jwt_token": token}},
            }
        )
        answer = await rpc.receive_until(lambda f, rid=name: f.get("id") == rid)
        assert answer["error"]["code"] == TOKEN_ERROR, name
    assert len(server.state.hub.sessions_of(_sub(alice))) == 1
    after = await row_counts(server)
    assert after.pop("sessions") == before.pop("sessions") + 1  # the one good connect's
    assert after.pop("session_positions") == before.pop("session_positions")
    assert after == before


def _sub(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


async def test_http_and_the_socket_refuse_a_token_for_the_same_reason(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    """One check, ``verify_subscriber_token``, behind both doors: 401 and TOKEN_ERROR agree."""
    alice = await server.token("alice")
    claims, subscriber = await verify_subscriber_token(server.state, alice)
    assert (claims.sub, subscriber.id) == (_sub(alice), _sub(alice))
    for name, token in _bad_tokens(server, alice).items():
        with pytest.raises(TokenError) as refused:
            await verify_subscriber_token(server.state, token)
        reason = str(refused.value)
        status, body = await api.get("/api/fabric/subscriber/info", token)
        assert (status, body["errors"][0]["message"]) == (401, reason), name
        rpc = await rpc_factory()
        answer = await rpc.connect(token)
        assert answer["error"] == {"code": TOKEN_ERROR, "message": reason}, name


async def test_bad_tokens_get_401(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    sub = jwt.decode(alice, options={"verify_signature": False})["sub"]
    head, payload, signature = alice.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    other_key = jwt.encode(
        jwt.decode(alice, options={"verify_signature": False}),
        "another-secret-that-is-long-enough-32b",
        algorithm="HS256",
        headers={"typ": "SAT"},
    )
    tokens = {
        "missing": None,
        "garbage": "not-a-jwt",
        "tampered": tampered,
        "other secret": other_key,
        "expired": _forge(server, sub=sub, exp=int(time.time()) - 10),
        "wrong typ": _forge(server, sub=sub, header={"typ": "JWT"}),
        "unknown subscriber": _forge(server, sub="nobody"),
        "other project": _forge(server, sub=sub, project_id="another-project"),
    }
    for name, token in tokens.items():
        status, body, _ = await api.call("GET", "/api/fabric/subscriber/info", token=token)
        assert status == 401, name
        assert body["errors"][0]["type"] == "authentication_error"
        assert token is None or token not in str(body)
    status, _, _ = await api.call(
        "GET", "/api/fabric/subscriber/info", headers={"Authorization": "Basic eDp5"}
    )
    assert status == 401


async def test_token_of_another_project_in_the_same_store_is_refused(
    server: LocalServer, api: Any
) -> None:
    from fabric_chat_server.auth import hash_project_token

    await server.state.store.put_project("second", hash_project_token("second-token"))
    basic = "Basic " + base64.b64encode(b"second:second-token").decode()
    status, _, _ = await api.call(
        "POST",
        "/api/fabric/subscribers/tokens",
        json={"reference": "mallory"},
        headers={"Authorization": basic},
    )
    assert status == 401
    subscriber, _ = await server.state.store.ensure_subscriber("second", "mallory", None)
    token = server.state.token_service.mint(
        subscriber_id=subscriber.id, project_id="second", channel="ws://x"
    )
    status, _ = await api.get("/api/fabric/subscriber/info", token)
    assert status == 401


@pytest.mark.parametrize(
    "header",
    [None, "Basic", "Basic !!!", "Bearer abc", "Basic " + base64.b64encode(b"nocolon").decode()],
)
async def test_project_routes_need_the_right_basic_credentials(
    server: LocalServer, api: Any, header: str | None
) -> None:
    before = await row_counts(server)
    headers = {} if header is None else {"Authorization": header}
    for path, body in (
        ("/api/fabric/subscribers/tokens", {"reference": "x"}),
        ("/api/fabric/addresses", {"name": "r"}),
    ):
        status, answer, _ = await api.call("POST", path, json=body, headers=headers)
        assert status == 401
        assert answer["errors"][0]["code"] == "unauthorized"
    wrong = "Basic " + base64.b64encode(f"{server.project_id}:wrong".encode()).decode()
    status, _, _ = await api.call(
        "POST", "/api/fabric/addresses", json={"name": "r"}, headers={"Authorization": wrong}
    )
    assert status == 401
    assert await row_counts(server) == before


async def test_bad_bodies_change_nothing(server: LocalServer, api: Any) -> None:
    s = await _pair(server, api)
    big = "x" * (64 * 1024 + 1)
    cases: list[tuple[str, Any, int, str | None]] = [
        ("/api/fabric/messages", b"{not json", 400, None),
        ("/api/fabric/messages", b"", 400, None),
        ("/api/fabric/messages", b"[]", 422, None),
        ("/api/fabric/messages", {"conversation_id": s["b"]}, 422, "text"),
        ("/api/fabric/messages", {"conversation_id": s["b"], "text": 5}, 422, "text"),
        ("/api/fabric/messages", {"conversation_id": s["b"], "text": ""}, 422, "text"),
        ("/api/fabric/messages", {"text": "no target"}, 422, "group_id"),
        (
            "/api/fabric/messages",
            {"conversation_id": s["b"], "text": "x", "metadata": []},
            422,
            "metadata",
        ),
        ("/api/fabric/messages", {"conversation_id": s["b"], "text": big}, 413, "text"),
        (
            "/api/fabric/messages",
            {"conversation_id": "unknown", "text": "x"},
            404,
            "conversation_id",
        ),
        ("/api/fabric/messages", {"group_id": "unknown", "text": "x"}, 404, "group_id"),
        (
            "/api/fabric/conversations/join",
            {"fabric_address_ids": "nope"},
            422,
            "fabric_address_ids",
        ),
        ("/api/fabric/conversations/join", {"conversation_id": "unknown"}, 404, "conversation_id"),
        # Keys of both dialects at once are ambiguous: refused, not guessed at.
        (
            "/api/fabric/conversations/join",
            {"conversation_id": s["b"], "fabric_address_ids": [s["b"]]},
            422,
            "conversation_id",
        ),
        (
            "/api/fabric/messages",
            {"group_id": s["group"], "conversation_id": s["b"], "text": "x"},
            422,
            "conversation_id",
        ),
        (
            "/api/fabric/messages",
            {
                "group_id": s["group"],
                "from_fabric_address_id": s["a"],
                "from_address_id": s["b"],
                "text": "x",
            },
            403,  # b is not alice's: that is found first (the export cannot say "equal")
            "from_address_id",
        ),
        ("/api/fabric/messages", {"group_id": s["group"], "txt": "typo"}, 422, "text"),
        (
            "/api/fabric/conversations/join",
            {"fabric_address_ids": [s["a"], s["b"], "third"]},
            404,  # an unknown address is found before the count of addresses
            "fabric_address_ids",
        ),
    ]
    before = await row_counts(server)
    for path, body, expected, attribute in cases:
        if isinstance(body, bytes):
            status, answer, _ = await api.call(
                "POST",
                path,
                token=s["alice"],
                data=body,
                headers={"Content-Type": "application/json"},
            )
        else:
            status, answer = await api.post(path, s["alice"], body)
        assert status == expected, (
            body
            if not isinstance(body, dict) or "text" not in body or len(str(body)) < 200
            else path,
            answer,
        )
        assert set(answer) == {"errors"}
        assert answer["errors"][0].get("attribute") == attribute, answer
    status, answer, _ = await api.call(
        "POST",
        "/api/fabric/messages",
        token=s["alice"],
        data=b"x" * (300 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert status == 413
    assert answer["errors"][0]["code"] == "too_large"
    assert await row_counts(server) == before
    assert server.state.stats.unexpected == 0


async def test_project_route_bad_bodies(server: LocalServer, api: Any) -> None:
    before = await row_counts(server)
    for path, body, expected in (
        ("/api/fabric/subscribers/tokens", {}, 422),
        ("/api/fabric/subscribers/tokens", {"reference": ""}, 422),
        ("/api/fabric/subscribers/tokens", {"reference": "a", "expire_at": -5}, 422),
        ("/api/fabric/subscribers/tokens", {"reference": 3}, 422),
        ("/api/fabric/addresses", {"name": "r", "type": "subscriber"}, 422),
        ("/api/fabric/addresses", {"name": " "}, 422),
        ("/api/fabric/addresses", [], 422),
    ):
        status, answer, _ = await api.call("POST", path, json=body, basic=True)
        assert status == expected, body
        assert "errors" in answer
    assert await row_counts(server) == before


async def test_unknown_routes_and_methods_get_the_error_body(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    status, body = await api.get("/api/fabric/nothing", alice)
    assert status == 404
    assert body["errors"][0]["code"] == "not_found"
    status, body, response = await api.call("DELETE", "/api/fabric/messages", token=alice)
    assert status == 405
    assert "Allow" in response.headers
    assert body["errors"][0]["code"] == "method_not_allowed"


async def test_rate_limit_answers_429_with_retry_after(store_options: dict[str, Any]) -> None:
    async with LocalServer(
        rate_limit_per_second=0.5, rate_limit_burst=2, **store_options
    ) as server:
        import aiohttp

        alice = await server.token("alice")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {alice}"}) as session:
            statuses = []
            for _ in range(3):
                async with session.get(server.base_url + "/api/fabric/subscriber/info") as response:
                    statuses.append(response.status)
                    retry_after = response.headers.get("Retry-After")
            assert statuses == [200, 200, 429]
            assert retry_after is not None
            assert int(retry_after) >= 1


async def test_unexpected_faults_become_a_bare_500(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice")
    store = server.state.store

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    store.subscriber_addresses = broken  # type: ignore[method-assign]
    status, body = await api.get("/api/fabric/subscriber/info", alice)
    assert status == 500
    assert "hunter2" not in str(body)
    assert body["errors"][0]["code"] == "internal_error"
    assert server.state.stats.unexpected == 1
    server.state.stats.unexpected = 0


async def test_room_events_reach_members_only(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    room = await server.create_room("lobby")
    alice, bob = await server.token("alice"), await server.token("bob")
    bob_ws = await rpc_factory()
    assert "result" in await bob_ws.connect(bob)
    await api.send(alice, room, "before bob joined")
    _, joined = await api.post("/api/fabric/conversations/join", bob, {"conversation_id": room})
    before = await row_counts(server)
    again = await api.post("/api/fabric/conversations/join", bob, {"conversation_id": room})
    assert again == (200, joined)  # joining twice changes nothing
    assert await row_counts(server) == before
    after = await api.send(alice, room, "after bob joined")
    first = await bob_ws.event()  # the first message event bob's socket ever sees
    assert first["params"]["params"]["id"] == after["id"]
    assert first["params"]["params"]["conversation_id"] == room


async def test_a_room_message_reaches_every_member_once_with_its_own_event_id(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    """One message fanned out: the same message to each member, an event id unique to each."""
    room = await server.create_room("fanout")
    names = ("ann", "ben", "cat")
    tokens = {name: await server.token(name) for name in names}
    sockets = {}
    for name in names:
        await api.post("/api/fabric/conversations/join", tokens[name], {"conversation_id": room})
        sockets[name] = await rpc_factory()
        assert "result" in await sockets[name].connect(tokens[name])
    first = await api.send(tokens["ann"], room, "one")
    second = await api.send(tokens["ann"], room, "two")
    ids: list[str] = []
    for name in names:
        events = [await sockets[name].event(), await sockets[name].event()]
        assert [e["params"]["params"]["id"] for e in events] == [first["id"], second["id"]]
        for event in events:
            assert event["params"]["params"]["conversation_id"] == room
            assert event["params"]["is_author"] is (name == "ann")
            assert event["params"]["event_channel"] == events[0]["params"]["event_channel"]
        ids += [event["id"] for event in events]
    # An event id is the message's position: each session acks it as its own, and a resend
    # (a resume) carries the same id.
    assert ids == [f"{first['group_id']}.1", f"{first['group_id']}.2"] * len(names)
