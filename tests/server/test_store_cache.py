"""The SQLite store's caches: few trips to the database thread, and never a stale answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fabric_chat_server.sqlite_store import SqliteStore
from fabric_chat_server.testing import LocalServer

pytestmark = pytest.mark.sqlite_only  # SqliteStore's own caches and trips to its thread


@contextmanager
def _counting_trips(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Count calls that cross to aiosqlite's worker thread (each costs a thread round trip)."""
    connection = store._conn
    trips: list[str] = []
    original = connection._execute

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await original(fn, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(connection, "_execute", counted)
        yield trips


async def test_a_warm_send_and_history_page_take_few_database_trips(
    server: LocalServer, api: Any, monkeypatch: pytest.MonkeyPatch, rpc_factory: Any
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    b_addr = await server.address_of("bob")
    rpc = await rpc_factory()
    await rpc.connect(bob)  # a live member, so the send fans out too
    first = await api.send(alice, b_addr, "warm up")
    group = first["group_id"]
    path = f"/api/fabric/conversations/{group}/messages?page_size=5"
    await api.get(path, alice)
    store = server.state.store
    assert isinstance(store, SqliteStore)
    with _counting_trips(store, monkeypatch) as trips:
        for body in (
            {"conversation_id": b_addr, "text": "address dialect"},
            {"group_id": group, "text": "group dialect"},
        ):
            trips.clear()
            status, _ = await api.post("/api/fabric/messages", alice, body)
            assert status == 201
            assert len(trips) <= 1, trips  # the insert and its commit, one trip (group commit)
        trips.clear()
        status, page = await api.get(path, alice)
        assert status == 200
        assert len(trips) <= 1, trips  # the page query (one row more says whether next exists)
    assert [m["text"] for m in page["data"]] == ["group dialect", "address dialect", "warm up"]
    assert (await rpc.event())["params"]["params"]["text"] == "warm up"


async def test_cached_rows_follow_every_write(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice", display_name="Alice")
    bob = await server.token("bob")
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    await api.send(alice, b_addr, "one")
    _, address = await api.get(f"/api/fabric/addresses/{a_addr}", bob)
    assert address["display_name"] == "Alice"
    # A new display name reaches the address, the info and the name on later messages.
    alice = await server.token("alice", display_name="Alice Liddell")
    _, address = await api.get(f"/api/fabric/addresses/{a_addr}", bob)
    assert address["display_name"] == "Alice Liddell"
    _, info = await api.get("/api/fabric/subscriber/info", alice)
    assert info["display_name"] == "Alice Liddell"
    sent = await api.send(alice, b_addr, "two")
    assert sent["user_name"] == "Alice Liddell"
    _, conversations = await api.get("/api/fabric/conversations", bob)
    assert conversations["data"][0]["name"] == "Alice Liddell"
    assert conversations["data"][0]["last_message_at"] == sent["ts"]
    # Membership learnt from a join is seen at once: a room joined is readable.
    room = await server.create_room("den")
    status, _ = await api.get(f"/api/fabric/conversations/{room}/messages", bob)
    assert status == 403
    _, joined = await api.post("/api/fabric/conversations/join", bob, {"conversation_id": room})
    status, _ = await api.get(f"/api/fabric/conversations/{joined['group_id']}/messages", bob)
    assert status == 200
    status, _ = await api.get(f"/api/fabric/conversations/{joined['group_id']}/messages", alice)
    assert status == 403  # alice never joined the room


async def test_caches_survive_a_restart_as_fresh_reads(server: LocalServer, api: Any) -> None:
    alice = await server.token("alice", display_name="Alice")
    b_addr = await server.address_of("bob")
    sent = await api.send(alice, b_addr, "before")
    await server.restart()
    _, page = await api.get(f"/api/fabric/conversations/{b_addr}/messages", alice)
    assert [m["id"] for m in page["data"]] == [sent["id"]]
    again = await api.send(alice, b_addr, "after")
    assert again["group_id"] == sent["group_id"]
    assert again["ts"] > sent["ts"]
