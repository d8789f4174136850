"""Schema versions: a database written by an older server is upgraded at start and reads back.

Both stores keep a schema version (SQLite: ``PRAGMA user_version``; PostgreSQL: the
``schema_version`` table, migrated under an advisory lock) and refuse one from a newer server.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from fabric_chat_server._pg_schema import SCHEMA_VERSION as PG_SCHEMA_VERSION
from fabric_chat_server.postgres_cluster import TemporaryCluster
from fabric_chat_server.postgres_store import PostgresStore
from fabric_chat_server.testing import LocalServer

from .conftest import Api, Rpc

PROJECT = {"project_id": "versions", "project_token": "PT-" + "v" * 40}

# What a version 1 file looked like: messages without seq, no sessions.
_TO_VERSION_1 = (
    "DROP TRIGGER messages_touch_conversation",
    "DROP INDEX messages_seq",
    "ALTER TABLE messages DROP COLUMN seq",
    "ALTER TABLE conversations DROP COLUMN last_seq",
    "ALTER TABLE members DROP COLUMN joined_seq",
    "DROP TABLE session_positions",
    "DROP TABLE sessions",
    "CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages BEGIN "
    "UPDATE conversations SET last_message_at = NEW.ts WHERE group_id = NEW.group_id; END",
    "PRAGMA user_version=1",
)


async def _write_history(server: LocalServer, session: aiohttp.ClientSession) -> tuple[str, str]:
    api = Api(server, session)
    alice = await server.token("alice")
    bob = await server.address_of("bob")
    for n in range(5):
        await api.send(alice, bob, f"old {n}")
    return alice, bob


async def _reads_back(server: LocalServer, session: aiohttp.ClientSession, alice: str) -> None:
    """The old history pages, a new message follows it in seq, a socket gets it as an event."""
    api = Api(server, session)
    bob_token = await server.token("bob")
    bob = await server.address_of("bob")
    rpc = Rpc(await session.ws_connect(server.ws_url + "/"))
    try:
        assert "result" in await rpc.connect(bob_token)
        status, page = await api.get(f"/api/fabric/conversations/{bob}/messages", alice)
        assert status == 200
        assert [m["text"] for m in page["data"]] == [f"old {n}" for n in reversed(range(5))]
        group = page["data"][0]["group_id"]
        store = server.state.store
        numbered = [await store.message_at(group, seq) for seq in range(1, 6)]
        assert [m.text for m in numbered if m is not None] == [f"old {n}" for n in range(5)]
        new = await api.send(alice, bob, "new")
        assert (await store.message_at(group, 6)).id == new["id"]  # type: ignore[union-attr]
        assert (await rpc.event())["params"]["params"]["id"] == new["id"]
    finally:
        await rpc.close()


async def test_a_version_1_sqlite_file_is_upgraded_at_start(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    async with aiohttp.ClientSession() as session:
        async with LocalServer(db, **PROJECT) as server:
            alice, _ = await _write_history(server, session)
        with sqlite3.connect(db) as connection:
            for statement in _TO_VERSION_1:
                connection.execute(statement)
        async with LocalServer(db, **PROJECT) as server:
            await _reads_back(server, session, alice)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 2


async def test_a_version_1_postgres_database_is_upgraded_once_by_instances_starting_together(
    postgres_cluster: TemporaryCluster, postgres_dsn: str
) -> None:
    name = postgres_dsn.rsplit("/", 1)[1]
    async with aiohttp.ClientSession() as session:
        async with LocalServer(database_url=postgres_dsn, **PROJECT) as server:
            alice, _ = await _write_history(server, session)
        # Version 2 added the shared rate buckets, version 3 an index of idempotency keys by
        # age: take them away, as version 1 had neither.
        postgres_cluster.sql(
            "DROP TABLE rate_buckets; DROP INDEX idempotency_keys_created; "
            "UPDATE schema_version SET version = 1",
            database=name,
        )
        servers = [LocalServer(database_url=postgres_dsn, **PROJECT) for _ in range(3)]
        await asyncio.gather(*(server.start() for server in servers))
        try:
            found = [server.state.store.schema_version_found for server in servers]  # type: ignore[attr-defined]
            latest = PG_SCHEMA_VERSION  # one migrated; the others found it done
            assert sorted(found) == [1, latest, latest]
            await _reads_back(servers[1], session, alice)
        finally:
            for server in servers:
                await server.aclose()
    version = postgres_cluster.sql("SELECT version FROM schema_version", database=name).strip()
    assert version == str(PG_SCHEMA_VERSION)
    indexes = postgres_cluster.sql("SELECT indexname FROM pg_indexes", database=name)
    assert "idempotency_keys_created" in indexes
    assert postgres_cluster.sql("SELECT count(*) FROM rate_buckets", database=name).strip() != ""


async def test_a_database_from_a_newer_server_is_refused(
    tmp_path: Path, postgres_cluster: TemporaryCluster, postgres_dsn: str
) -> None:
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA user_version=99")
    with pytest.raises(RuntimeError, match="schema version 99"):
        async with LocalServer(db, **PROJECT):
            pass
    name = postgres_dsn.rsplit("/", 1)[1]
    postgres_cluster.sql(
        "CREATE TABLE schema_version (version integer NOT NULL); "
        "INSERT INTO schema_version VALUES (99)",
        database=name,
    )
    store = PostgresStore(postgres_dsn)
    with pytest.raises(RuntimeError, match="schema version 99"):
        await store.open()
    await store.close()
    assert "99" in postgres_cluster.sql("SELECT version FROM schema_version", database=name)
