"""``send_message(idempotency_key=...)`` and a join cache that recovers by itself.

A caller's own retry after an error passes the same key: the real server stores the message
once and answers the retry with it (the same key with other content is a 409). Without a key
each call makes its own, which the call's internal retries reuse. When the server no longer
knows a cached group (its database was reset under a long-lived client), the next send joins
again, once, and goes through.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import fabric_chat
import pytest
from fabric_chat import APIStatusError, AsyncClient, Client, InvalidArgumentError, ServerError
from fabric_chat_server.testing import LocalServer, ThreadedServer

from .conftest import Canned, FakeServer, World


async def test_a_callers_retry_with_the_same_key_sends_once(world: World) -> None:
    async with AsyncClient(token=world.alice_token) as alice:
        first = await alice.chat.send_message(
            address_id=world.bob, text="once", idempotency_key="order-42"
        )
        again = await alice.chat.send_message(
            address_id=world.bob, text="once", idempotency_key="order-42"
        )
        assert first.last_message is not None
        assert again.last_message is not None
        assert again.last_message.id == first.last_message.id
        with pytest.raises(APIStatusError) as refused:
            await alice.chat.send_message(
                address_id=world.bob, text="other text", idempotency_key="order-42"
            )
        assert refused.value.status == 409
        # No key: a fresh one per call, so the same text twice is two messages.
        await alice.conversation.send_message(address_id=world.bob, text="twice")
        await alice.conversation.send_message(address_id=world.bob, text="twice")
        page = await alice.chat.get_messages(address_id=world.bob, page_size=10)
    assert [m.text for m in page.data] == ["twice", "twice", "once"]


async def test_a_key_is_checked_before_anything_is_sent(server: FakeServer) -> None:
    async with AsyncClient(token=server.token) as client:
        for bad in ("", "has space", "x" * 257, "tab\t"):
            with pytest.raises(InvalidArgumentError, match="idempotency_key"):
                await client.chat.send_message(
                    address_id="addr-bob", text="hi", idempotency_key=bad
                )
        with pytest.raises(InvalidArgumentError, match="idempotency_key must be a str"):
            await client.chat.send_message(
                address_id="addr-bob",
                text="hi",
                idempotency_key=7,  # type: ignore[arg-type]
            )
    assert server.send_keys == []


def _send_keys(server: FakeServer) -> list[str]:
    return [
        headers.get("Idempotency-Key", "")
        for method, path, headers in server.requests
        if method == "POST" and path == "/api/fabric/messages"
    ]


async def test_internal_retries_reuse_the_calls_key_and_the_caller_can_reuse_it(
    server: FakeServer,
) -> None:
    async with fabric_chat.AsyncClient(token=server.token, max_retries=1) as client:
        server.fail("/api/fabric/messages", Canned(503), Canned(503))
        with pytest.raises(ServerError):
            await client.chat.send_message(address_id="addr-bob", text="hi")
        auto = _send_keys(server)
        assert len(auto) == 2
        assert auto[0] == auto[1]  # the call's own retry carried the call's key
        assert len(auto[0]) >= 16
        server.fail("/api/fabric/messages", Canned(503), Canned(503))
        with pytest.raises(ServerError):
            await client.chat.send_message(address_id="addr-bob", text="hi", idempotency_key="k-9")
        await client.chat.send_message(address_id="addr-bob", text="hi", idempotency_key="k-9")
        await client.chat.send_message(address_id="addr-bob", text="hi")
    keys = _send_keys(server)
    assert keys[2:5] == ["k-9", "k-9", "k-9"]
    assert len(keys) == 6
    assert keys[5] not in {"k-9", auto[0]}


def _copy_db(source: Path, target: Path) -> None:
    target.mkdir(exist_ok=True)
    for old in target.glob("chat.db*"):
        old.unlink()
    for path in source.glob("chat.db*"):
        shutil.copy2(path, target / path.name)


async def test_the_join_cache_recovers_after_the_servers_database_is_reset(
    tmp_path: Path,
) -> None:
    live, backup = tmp_path / "live", tmp_path / "backup"
    live.mkdir()
    async with LocalServer(live / "chat.db") as server:
        alice_token = await server.token("alice", display_name="Alice")
        await server.token("bob", display_name="Bob")
        bob = await server.address_of("bob")
        await server.stop()
        _copy_db(live, backup)  # the database as it was: subscribers, no conversation
        await server.start()
        async with AsyncClient(token=alice_token) as alice:
            before = await alice.chat.send_message(address_id=bob, text="before the reset")
            # The database is reset (restored from the backup) under the long-lived client:
            # same project, same signing secret, same subscribers, no conversation.
            await server.stop()
            _copy_db(backup, live)
            await server.start()
            after = await alice.chat.send_message(address_id=bob, text="after the reset")
            assert after.group_id != before.group_id  # the client joined again, by itself
            again = await alice.chat.send_message(address_id=bob, text="and again")
            assert again.group_id == after.group_id  # ... once: the new group is cached
            page = await alice.chat.get_messages(address_id=bob)
    assert [m.text for m in page.data] == ["and again", "after the reset"]


def test_the_sync_client_recovers_too_and_takes_a_key(tmp_path: Path) -> None:
    live, backup = tmp_path / "live", tmp_path / "backup"
    live.mkdir()
    with ThreadedServer(live / "chat.db") as server:
        alice_token = server.token("alice", display_name="Alice")
        server.token("bob", display_name="Bob")
        bob = server.address_of("bob")
        server.call(server.server.stop())
        _copy_db(live, backup)
        server.call(server.server.start())
        with Client(token=alice_token) as alice:
            first = alice.chat.send_message(address_id=bob, text="hi", idempotency_key="s-1")
            same = alice.chat.send_message(address_id=bob, text="hi", idempotency_key="s-1")
            assert first.last_message is not None
            assert same.last_message is not None
            assert same.last_message.id == first.last_message.id
            server.call(server.server.stop())
            _copy_db(backup, live)
            server.call(server.server.start())
            alice.chat.send_message(address_id=bob, text="after the reset")
            assert [m.text for m in alice.chat.get_messages(address_id=bob).data] == [
                "after the reset"
            ]
