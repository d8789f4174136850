"""Regression tests of the hardening issue: each is named after the attack it prevents."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import msgspec
import pytest
from fabric_chat._protocol import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_REAUTHENTICATE,
)
from fabric_chat.contract import LIMITS
from fabric_chat_server.auth import TokenService, hash_project_token, same_secret
from fabric_chat_server.limits import LoginGuard
from fabric_chat_server.testing import LocalServer

from .conftest import row_counts

MESSAGES = "/api/fabric/messages"


def _nested_metadata(depth: int) -> bytes:
    return b'{"k":' * depth + b"1" + b"}" * depth


async def _raw_post(
    session: aiohttp.ClientSession,
    server: LocalServer,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, Any]:
    all_headers = {"Content-Type": "application/json", **headers}
    async with session.post(server.base_url + path, data=body, headers=all_headers) as response:
        raw = await response.read()
        return response.status, msgspec.json.decode(raw) if raw else None


# --- one message cannot break another user's history ------------------------------------------


async def test_deeply_nested_metadata_cannot_poison_a_history(
    server: LocalServer, api: Any, session: aiohttp.ClientSession
) -> None:
    mallory, bob = await server.token("mallory"), await server.token("bob")
    bob_address = await server.address_of("bob")
    before = await row_counts(server)
    for depth in (LIMITS.json_depth + 1, 975, 1_200, 20_000):
        body = (
            b'{"conversation_id":"'
            + bob_address.encode()
            + b'","text":"x","metadata":'
            + _nested_metadata(depth)
            + b"}"
        )
        status, answer = await _raw_post(
            session, server, MESSAGES, body, {"Authorization": f"Bearer {mallory}"}
        )
        assert status == 422, (depth, answer)
        assert answer["errors"][0].get("attribute") in ("metadata", None)
    assert await row_counts(server) == before
    # Within the limit it is stored and reads back everywhere.
    body = (
        b'{"conversation_id":"'
        + bob_address.encode()
        + b'","text":"ok","metadata":'
        + _nested_metadata(LIMITS.json_depth - 1)
        + b"}"
    )
    status, _ = await _raw_post(
        session, server, MESSAGES, body, {"Authorization": f"Bearer {mallory}"}
    )
    assert status == 201
    status, page = await api.get(MESSAGES, bob)
    assert status == 200
    assert page["data"][0]["text"] == "ok"


async def test_a_poisoned_row_from_an_older_server_still_reads_back(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    db = tmp_path / "old.db"
    async with LocalServer(db) as server:
        alice, bob = await server.token("alice"), await server.token("bob")
        bob_address = await server.address_of("bob")
        status, _ = await _raw_post(
            session,
            server,
            MESSAGES,
            b'{"conversation_id":"' + bob_address.encode() + b'","text":"old"}',
            {"Authorization": f"Bearer {alice}"},
        )
        assert status == 201
    # What the old server let through: metadata nested 975 levels, written straight to the file.
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE messages SET metadata = ?", (_nested_metadata(975).decode(),))
    async with LocalServer(
        db, project_id=server.project_id, project_token=server.project_token
    ) as again:
        for path in (MESSAGES, f"/api/fabric/conversations/{bob_address}/messages"):
            async with session.get(
                again.base_url + path, headers={"Authorization": f"Bearer {alice}"}
            ) as response:
                assert response.status == 200, path
                page = await response.json()
                assert page["data"][0]["text"] == "old"
                assert page["data"][0]["metadata"] == {}
        assert again.state.stats.unexpected == 0
    assert bob


# --- 500s without credentials ----------------------------------------------------------------


async def _status_of(
    session: aiohttp.ClientSession,
    server: LocalServer,
    method: str,
    path: str,
    headers: dict[str, Any],
    body: bytes = b"",
) -> int:
    async with session.request(
        method,
        server.base_url + path,
        data=body or None,
        headers=headers,
        skip_auto_headers=["Content-Type"],
    ) as response:
        await response.read()
        return response.status


async def test_invalid_utf8_in_a_bearer_token_is_401_not_500(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    # aiohttp's client refuses such header bytes, so send them raw.
    for token in (b"\xff\xfe", b"\xc3\x28abc", b"eyJ\xed\xa0\x80"):
        status = await _raw_status(
            server, b"GET", b"/api/fabric/subscriber/info", [(b"Authorization", b"Bearer " + token)]
        )
        assert status == 401
    assert server.state.stats.unexpected == 0


async def test_non_ascii_basic_credentials_are_401_not_500(server: LocalServer) -> None:
    for value in (
        "Basic é:é".encode(),
        b"Basic \xff\xfe",
        b"Basic " + base64.b64encode(b"\xff:\xfe"),
    ):
        status = await _raw_status(
            server,
            b"POST",
            b"/api/fabric/subscribers/tokens",
            [(b"Authorization", value), (b"Content-Type", b"application/json")],
            b'{"reference":"x"}',
        )
        assert status == 401
    assert server.state.stats.unexpected == 0


async def test_invalid_utf8_in_a_json_body_is_400_not_500(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    alice = await server.token("alice")
    bob_address = await server.address_of("bob")
    before = await row_counts(server)
    for text in (b"\xff", b"\xed\xa0\x80", b"\\ud800", b"\\udc00x"):
        body = b'{"conversation_id":"' + bob_address.encode() + b'","text":"' + text + b'"}'
        status, answer = await _raw_post(
            session, server, MESSAGES, body, {"Authorization": f"Bearer {alice}"}
        )
        assert status == 400, (text, answer)
    assert await row_counts(server) == before


async def test_invalid_utf8_in_an_idempotency_key_is_400_not_500(server: LocalServer) -> None:
    alice = await server.token("alice")
    bob_address = await server.address_of("bob")
    before = await row_counts(server)
    body = b'{"conversation_id":"' + bob_address.encode() + b'","text":"hi"}'
    for key in (b"\xff\xfe", b"caf\xc3", b"a b", b"\x01"):
        status = await _raw_status(
            server,
            b"POST",
            MESSAGES.encode(),
            [
                (b"Authorization", b"Bearer " + alice.encode()),
                (b"Content-Type", b"application/json"),
                (b"Idempotency-Key", key),
            ],
            body,
        )
        assert status in (400, 422), key
    assert await row_counts(server) == before


async def test_numbers_out_of_range_and_nul_in_ids_are_refused(
    server: LocalServer, session: aiohttp.ClientSession, api: Any
) -> None:
    alice = await server.token("alice")
    bob_address = await server.address_of("bob")
    before = await row_counts(server)
    auth = {"Authorization": f"Bearer {alice}"}
    for body in (
        b'{"conversation_id":"' + bob_address.encode() + b'","text":"x","metadata":{"n":1e400}}',
        b'{"conversation_id":"a\\u0000b","text":"x"}',
        b'{"group_id":"' + b"g" * 200 + b'","text":"x"}',
        b'{"conversation_id":"'
        + bob_address.encode()
        + b'","text":"'
        + b"x" * (LIMITS.text_bytes + 1)
        + b'"}',
    ):
        status, answer = await _raw_post(session, server, MESSAGES, body, auth)
        assert status in (413, 422), answer
    status, _ = await api.get("/api/fabric/addresses/a%00b", alice)
    assert status == 422
    assert await row_counts(server) == before


async def test_nul_in_any_string_is_refused_alike_on_both_stores(
    server: LocalServer, session: aiohttp.ClientSession, api: Any
) -> None:
    # PostgreSQL keeps no U+0000 in text: on it these were 500s, while SQLite kept them. Both
    # stores now give the same typed 422 naming the field, and nothing is written. Free-form
    # JSON is stored as JSON text, where a NUL is an escape: metadata keeps one, on both.
    alice = await server.token("alice")
    bob_address = await server.address_of("bob")
    before = await row_counts(server)
    bearer = {"Authorization": f"Bearer {alice}"}
    basic = {"Authorization": server.basic_auth()}
    address = bob_address.encode()
    for path, headers, body, attribute in (
        (MESSAGES, bearer, b'{"conversation_id":"' + address + b'","text":"a\\u0000b"}', "text"),
        ("/api/fabric/subscribers/tokens", basic, b'{"reference":"a\\u0000"}', "reference"),
        (
            "/api/fabric/subscribers/tokens",
            basic,
            b'{"reference":"carol","display_name":"C\\u0000"}',
            "display_name",
        ),
        ("/api/fabric/addresses", basic, b'{"name":"r\\u0000m"}', "name"),
    ):
        status, answer = await _raw_post(session, server, path, body, headers)
        assert status == 422, (path, body, answer)
        error = answer["errors"][0]
        assert error["attribute"] == attribute
        assert "U+0000" in error["message"]
    assert await row_counts(server) == before
    # An escaped backslash followed by "u0000" is six ordinary characters, and is kept.
    status, answer = await _raw_post(
        session,
        server,
        MESSAGES,
        b'{"conversation_id":"' + address + b'","text":"\\\\u0000"}',
        bearer,
    )
    assert status == 201, answer
    assert answer["text"] == "\\u0000"
    status, answer = await _raw_post(
        session,
        server,
        MESSAGES,
        b'{"conversation_id":"' + address + b'","text":"x","metadata":{"a\\u0000":"\\u0000b"}}',
        bearer,
    )
    assert status == 201, answer
    status, page = await api.get(f"/api/fabric/conversations/{bob_address}/messages", alice)
    assert status == 200, page
    assert page["data"][0]["metadata"] == {"a\x00": "\x00b"}


async def test_a_wrong_content_type_is_415(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    alice = await server.token("alice")
    bob_address = await server.address_of("bob")
    body = msgspec.json.encode({"conversation_id": bob_address, "text": "hi"})
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
    ):
        async with session.post(
            server.base_url + MESSAGES,
            data=body,
            headers={"Authorization": f"Bearer {alice}", "Content-Type": content_type},
        ) as response:
            assert response.status == 415, content_type
    assert (await row_counts(server))["messages"] == 0


async def test_deeply_nested_websocket_params_get_a_jsonrpc_error_not_32603(
    server: LocalServer, rpc_factory: Any
) -> None:
    alice = await server.token("alice")
    socket = await rpc_factory()
    assert "result" in await socket.connect(alice)
    for depth in (LIMITS.json_depth + 20, 975, 5_000):
        params = (
            '{"authentication":{"jwt_token":"x","project":'
            + '{"a":' * depth
            + "1"
            + "}" * depth
            + "}}"
        )
        frame = (
            '{"jsonrpc":"2.0","id":"deep","method":"signalwire.reauthenticate","params":'
            + params
            + "}"
        )
        await socket.ws.send_str(frame)
        answer = await socket.receive_until(lambda f: "error" in f)
        assert answer["error"]["code"] in (INVALID_REQUEST, INVALID_PARAMS), answer
    assert server.state.stats.unexpected == 0


# --- memory held by unknown ids ------------------------------------------------------------------


async def test_unknown_ids_are_never_cached_and_long_ones_never_looked_up(
    server: LocalServer, api: Any, session: aiohttp.ClientSession
) -> None:
    alice = await server.token("alice")
    store: Any = server.state.store
    cached = len(store._conversations)
    for index in range(50):
        status, _ = await api.get(f"/api/fabric/conversations/unknown-{index}/messages", alice)
        assert status == 404
    assert len(store._conversations) == cached
    status, _ = await api.get(
        "/api/fabric/conversations/" + "x" * (LIMITS.id_length + 1) + "/messages", alice
    )
    assert status == 422
    huge = await _status_of(
        session,
        server,
        "GET",
        "/api/fabric/conversations/" + "x" * 240_000 + "/messages",
        {"Authorization": f"Bearer {alice}"},
    )
    assert 400 <= huge < 500
    assert len(store._conversations) == cached


# --- secrets -------------------------------------------------------------------------------------


async def test_the_database_holding_the_signing_secret_is_not_readable_by_others(
    tmp_path: Path, api: Any
) -> None:
    db = tmp_path / "private.db"
    async with LocalServer(db) as server:
        alice = await server.token("alice")
        await server.address_of("bob")
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if path.exists():
                assert path.stat().st_mode & 0o077 == 0, path
        assert alice
    # An existing world-readable file is made private on the next start.
    db.chmod(0o644)
    async with LocalServer(db):
        assert db.stat().st_mode & 0o077 == 0


def test_the_project_token_is_stored_with_a_slow_salted_hash() -> None:
    first, second = hash_project_token("PT-secret"), hash_project_token("PT-secret")
    assert first != second  # salted
    assert first.startswith("scrypt$16384$8$1$")
    assert "PT-secret" not in first
    assert same_secret("PT-secret", first)
    assert same_secret("PT-secret", second)
    assert not same_secret("PT-wrong", first)


def test_the_token_lifetime_is_capped() -> None:
    service = TokenService("s" * 32, ttl=10 * 365 * 86400.0, max_lifetime=3600.0)
    now = int(time.time())
    for token in (
        service.mint(subscriber_id="s", project_id="p", channel="ws://x"),
        service.mint(subscriber_id="s", project_id="p", channel="ws://x", expires_at=now + 10**9),
    ):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] <= 3600
    # A token minted by a laxer server (same secret) is refused.
    lax = TokenService("s" * 32, ttl=10**9, max_lifetime=10**9)
    with pytest.raises(Exception, match="longer than this server allows"):
        service.verify(lax.mint(subscriber_id="s", project_id="p", channel="ws://x"))


async def test_a_token_lifetime_of_thousands_of_years_is_not_granted(
    server: LocalServer, api: Any
) -> None:
    status, answer = await api.post(
        "/api/fabric/subscribers/tokens",
        None,
        {"reference": "alice", "expire_at": int(time.time()) + 10**11},
        basic=True,
    )
    assert status == 200
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= LIMITS.token_lifetime


# --- throttled guessing ----------------------------------------------------------------------


async def test_failed_logins_are_throttled_per_address_and_per_project() -> None:
    now = [0.0]
    guard = LoginGuard(rate=0.5, burst=3, project_rate=1.0, project_burst=5, clock=lambda: now[0])
    for _ in range(3):
        assert await guard.wait("10.0.0.1", "p") == 0
        await guard.failed("10.0.0.1", "p")
    assert await guard.wait("10.0.0.1", "p") > 0  # this address is out of tries
    for _ in range(2):
        await guard.failed("10.0.0.2", "p")
    assert await guard.wait("10.0.0.3", "p") > 0  # the project is out of tries, from any address
    now[0] += 10.0
    assert await guard.wait("10.0.0.1", "p") == 0


async def test_guessing_the_project_token_gets_429_with_retry_after(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    wrong = "Basic " + base64.b64encode(f"{server.project_id}:guess".encode()).decode()
    statuses = []
    retry_after = None
    for _ in range(40):
        async with session.post(
            server.base_url + "/api/fabric/subscribers/tokens",
            json={"reference": "x"},
            headers={"Authorization": wrong},
        ) as response:
            statuses.append(response.status)
            if response.status == 429:
                retry_after = response.headers.get("Retry-After")
                break
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert retry_after is not None
    assert int(retry_after) >= 1
    # While throttled, even the right token is not checked from this address.
    async with session.post(
        server.base_url + "/api/fabric/subscribers/tokens",
        json={"reference": "x"},
        headers={"Authorization": server.basic_auth()},
    ) as response:
        assert response.status == 429


# --- idempotency, links, expiry ----------------------------------------------------------------


async def test_an_idempotency_key_reused_with_another_body_is_refused(
    server: LocalServer, api: Any
) -> None:
    alice = await server.token("alice")
    bob = await server.address_of("bob")
    headers = {"Idempotency-Key": "key-1"}
    first = await api.call(
        "POST", MESSAGES, token=alice, json={"conversation_id": bob, "text": "one"}, headers=headers
    )
    again = await api.call(
        "POST", MESSAGES, token=alice, json={"conversation_id": bob, "text": "one"}, headers=headers
    )
    other = await api.call(
        "POST", MESSAGES, token=alice, json={"conversation_id": bob, "text": "two"}, headers=headers
    )
    assert first[0] == 201
    assert again[0] == 201
    assert again[1]["id"] == first[1]["id"]
    assert other[0] == 409
    assert "different request body" in other[1]["errors"][0]["message"]
    assert (await row_counts(server))["messages"] == 1


async def test_page_links_use_the_public_origin_never_the_host_header(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    async with LocalServer(tmp_path / "o.db", public_origin="https://chat.example.com") as server:
        alice = await server.token("alice")
        async with session.get(
            server.base_url + "/api/fabric/messages?page_size=1",
            headers={"Authorization": f"Bearer {alice}", "Host": "evil.example"},
        ) as response:
            page = await response.json()
        assert page["links"]["self"].startswith("https://chat.example.com/api/fabric/messages")
        assert "evil" not in msgspec.json.encode(page["links"]).decode()
    async with LocalServer(tmp_path / "p.db") as server:
        alice = await server.token("alice")
        async with session.get(
            server.base_url + "/api/fabric/messages",
            headers={"Authorization": f"Bearer {alice}", "Host": "evil.example"},
        ) as response:
            page = await response.json()
        assert page["links"]["first"].startswith(server.base_url + "/")


async def test_a_reauthenticate_with_a_shorter_token_ends_the_socket_at_its_expiry(
    server: LocalServer, rpc_factory: Any
) -> None:
    alice = await server.token("alice")
    claims = jwt.decode(alice, options={"verify_signature": False})
    short = server.state.token_service.mint(
        subscriber_id=claims["sub"],
        project_id=server.project_id,
        channel=server.ws_url,
        expires_at=int(time.time()) + 2,
    )
    socket = await rpc_factory()
    assert "result" in await socket.connect(alice)
    await socket.send(
        {
            "jsonrpc": "2.0",
            "id": "re",
            "method": SIGNALWIRE_REAUTHENTICATE,
            "params": {"authentication": {"jwt_token": short}},
        }
    )
    await socket.receive_until(lambda f: f.get("id") == "re")
    deadline = claims_exp = jwt.decode(short, options={"verify_signature": False})["exp"]
    async with asyncio.timeout(10):  # far under the old 60 s check period
        while True:
            message = await socket.ws.receive()
            if message.type == aiohttp.WSMsgType.TEXT:
                frame = msgspec.json.decode(message.data)
                if frame.get("method") == SIGNALWIRE_DISCONNECT:
                    closed_at = time.time()
                    break
            else:
                closed_at = time.time()
                break
    assert claims_exp <= closed_at <= deadline + 2.0


# --- raw HTTP ------------------------------------------------------------------------------------


async def _raw_status(
    server: LocalServer,
    method: bytes,
    path: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
        lines += [name + b": " + value for name, value in headers]
        lines.append(b"Content-Length: " + str(len(body)).encode())
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split(b" ")[1])
    finally:
        writer.close()
        await writer.wait_closed()
