"""PostgreSQL as the store: what must hold when N instances share one database.

Each test starts what it needs on the session's throwaway cluster (``postgres_dsn``): stores
or whole servers, several at once on the same database.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
import uuid
from typing import Any

import aiohttp
import msgspec
import pytest
from fabric_chat._protocol import SIGNALWIRE_EVENT
from fabric_chat_server.postgres_cluster import TemporaryCluster
from fabric_chat_server.postgres_store import PostgresStore, redact_dsn
from fabric_chat_server.store import ConversationRecord, MessageRecord
from fabric_chat_server.testing import LocalServer, ServerProcess

from .conftest import Api, Rpc, store_row_counts

PROJECT = ("proj-pg", "PT-" + "p" * 40)


async def _conversation(store: PostgresStore, name: str) -> tuple[str, str, str]:
    """Create alice, a room ``name`` with alice in it; return (group id, subscriber, address)."""
    await store.put_project(PROJECT[0], "hash")
    alice, address = await store.ensure_subscriber(PROJECT[0], "alice", "Alice")
    room = await store.ensure_address(PROJECT[0], name, display_name=None, type="room")
    conversation = await store.open_conversation(
        ConversationRecord(
            group_id=str(uuid.uuid4()),
            project_id=PROJECT[0],
            kind="room",
            address_a=room.id,
            address_b=None,
            name=name,
            created_at=0.0,
        ),
        "room:" + room.id,
        [(alice.id, address.id)],
    )
    return conversation.group_id, alice.id, address.id


def _draft(group_id: str, subscriber_id: str, address_id: str, text: str) -> MessageRecord:
    return MessageRecord(
        id=str(uuid.uuid4()),
        group_id=group_id,
        from_address_id=address_id,
        subscriber_id=subscriber_id,
        user_name="alice",
        ts=0.0,
        type="message",
        subtype="chat",
        kind=None,
        text=text,
        metadata={"n": 2**70},
        details={},
    )


async def test_two_stores_sending_at_once_number_each_conversation_without_gaps(
    postgres_dsn: str,
) -> None:
    stores = [PostgresStore(postgres_dsn), PostgresStore(postgres_dsn)]
    await asyncio.gather(*(store.open() for store in stores))  # both migrate: it happens once
    try:
        rooms = [await _conversation(stores[0], f"room-{n}") for n in range(3)]
        heard: list[tuple[str, int]] = []
        stores[1].add_commit_listener(
            lambda records: heard.extend((r.group_id, r.seq) for r in records)
        )

        async def send(n: int) -> MessageRecord:
            group_id, subscriber_id, address_id = rooms[n % 3]
            stored, created = await stores[n % 2].insert_message(
                _draft(group_id, subscriber_id, address_id, f"m{n}"), None
            )
            assert created
            return stored

        stored = await asyncio.gather(*(send(n) for n in range(120)))
        for group_id, _, _ in rooms:
            mine = sorted((r for r in stored if r.group_id == group_id), key=lambda r: r.seq)
            assert [r.seq for r in mine] == list(range(1, 41))  # gapless, no number twice
            read = [await stores[0].message_at(group_id, seq) for seq in range(1, 41)]
            assert [r.id for r in read if r is not None] == [r.id for r in mine]
            times = [r.ts for r in mine]
            assert times == sorted(times)  # ts grows with seq
            assert len(set(times)) == len(times)
        assert sorted(heard) == sorted((r.group_id, r.seq) for r in stored if stored.index(r) % 2)
        assert stored[0].metadata == {"n": 2**70}  # integers of any size read back
        assert (await stores[1].message_at(rooms[0][0], 1)).metadata == {"n": 2**70}
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_the_same_idempotency_key_on_two_instances_at_once_stores_one_message(
    postgres_dsn: str,
) -> None:
    stores = [PostgresStore(postgres_dsn) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        group_id, subscriber_id, address_id = await _conversation(stores[0], "room")
        for attempt in range(5):
            key = (subscriber_id, f"key-{attempt}")
            results = await asyncio.gather(
                *(
                    store.insert_message(_draft(group_id, subscriber_id, address_id, "once"), key)
                    for store in stores * 3
                )
            )
            assert sum(created for _, created in results) == 1
            assert len({stored.id for stored, _ in results}) == 1
            assert len({stored.seq for stored, _ in results}) == 1
        counts = await store_row_counts(stores[1])
        assert counts["messages"] == 5
        assert counts["idempotency_keys"] == 5
    finally:
        for store in stores:
            await store.close()


async def test_instances_starting_at_once_agree_on_the_project_and_the_signing_secret(
    postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    servers = [LocalServer(database_url=postgres_dsn, project_id=None, project_token=None)]
    servers.append(LocalServer(database_url=postgres_dsn, project_id=None, project_token=None))
    servers.append(LocalServer(database_url=postgres_dsn, project_id=None, project_token=None))
    await asyncio.gather(*(server.start() for server in servers))
    try:
        states = [server.state for server in servers]
        assert len({state.project_id for state in states}) == 1
        made = [state for state in states if state.generated_credentials]
        assert len(made) == 1  # one of them made the project; it alone knows the token
        assert made[0].project_token is not None
        basic = base64.b64encode(f"{made[0].project_id}:{made[0].project_token}".encode())
        async with session.post(
            servers[0].base_url + "/api/fabric/subscribers/tokens",
            json={"reference": "alice"},
            headers={"Authorization": "Basic " + basic.decode()},
        ) as response:
            assert response.status == 200
            token = (await response.json())["token"]
        for server in servers:  # a token minted on one instance is good on every one
            async with session.get(
                server.base_url + "/api/fabric/subscriber/info",
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200
    finally:
        for server in servers:
            await server.aclose()


async def test_rate_limits_and_the_login_throttle_hold_across_instances(
    postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    options: dict[str, Any] = {
        "database_url": postgres_dsn,
        "project_id": PROJECT[0],
        "project_token": PROJECT[1],
        "rate_limit_per_second": 0.01,  # one more every 100 s: no refill within the test
        "rate_limit_burst": 4,
        "connects_per_second": 0.01,
        "connect_burst": 3,
    }
    async with LocalServer(**options) as one, LocalServer(**options) as two:
        alice = await one.token("alice")
        statuses = []
        for n in range(8):  # alternate instances: one bucket for the caller, not one each
            server = (one, two)[n % 2]
            async with session.get(
                server.base_url + "/api/fabric/subscriber/info",
                headers={"Authorization": f"Bearer {alice}"},
            ) as response:
                statuses.append(response.status)
        assert statuses[:4] == [200] * 4
        assert statuses[4:] == [429] * 4

        answers = []
        for n in range(5):
            rpc = Rpc(await session.ws_connect((one, two)[n % 2].ws_url + "/"))
            try:
                answers.append(await rpc.connect(alice))
            finally:
                await rpc.close()
        assert ["result" in answer for answer in answers] == [True] * 3 + [False] * 2
        assert answers[3]["error"]["code"] == answers[4]["error"]["code"]

        wrong = "Basic " + base64.b64encode(f"{PROJECT[0]}:guess".encode()).decode()
        seen = []
        started = time.monotonic()
        for n in range(14):  # 10 failures per address at once (0.5 more a second), on both
            async with session.post(
                (one, two)[n % 2].base_url + "/api/fabric/subscribers/tokens",
                json={"reference": "x"},
                headers={"Authorization": wrong},
            ) as response:
                seen.append(response.status)
        refilled = math.ceil((time.monotonic() - started) * 0.5)
        # Each instance alone saw 7 failures, under its 10: only a shared count throttles.
        assert seen[:10] == [401] * 10
        assert seen.count(401) <= 10 + refilled
        assert seen.count(401) < 14  # (each instance counting alone: 14 times 401)


async def test_serve_on_postgresql_shows_no_password_and_an_unreachable_one_fails_clearly(
    postgres_cluster: TemporaryCluster, postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    password = "pw-" + uuid.uuid4().hex
    # trust authentication ignores the password: it is there to be kept out of every output.
    dsn = postgres_dsn.replace("postgres@", f"postgres:{password}@")
    env = {"FABRIC_CHAT_DB": dsn, "FABRIC_CHAT_PROJECT_TOKEN": PROJECT[1]}
    process = ServerProcess("--project-id", PROJECT[0], "--log-level", "DEBUG", env=env)
    async with process:
        basic = "Basic " + base64.b64encode(":".join(PROJECT).encode()).decode()
        async with session.post(
            process.base_url + "/api/fabric/subscribers/tokens",
            json={"reference": "alice"},
            headers={"Authorization": basic},
        ) as response:
            assert response.status == 200
    assert process.process is not None
    assert process.process.returncode == 0
    assert "opened postgresql://postgres@127.0.0.1" in process.stderr  # it logged where
    assert password not in process.stderr + "\n".join(process.lines)
    rows = postgres_cluster.sql("SELECT count(*) FROM subscribers", database=dsn.rsplit("/", 1)[1])
    assert rows.strip() == "1"

    closed = ServerProcess(
        env={"FABRIC_CHAT_DB": f"postgresql://postgres:{password}@127.0.0.1:1/nowhere"}
    )
    with pytest.raises(RuntimeError, match="unexpected first line"):
        await closed.start()
    assert closed.process is not None
    assert closed.process.returncode not in (0, None)
    assert "cannot connect to postgresql://postgres@127.0.0.1:1/nowhere" in closed.stderr
    assert password not in closed.stderr
    assert password not in repr(PostgresStore(dsn)) + redact_dsn(dsn)


def test_a_dsn_is_shown_without_its_password() -> None:
    assert (
        redact_dsn("postgresql://u:secret@h:5432/db?sslmode=require") == "postgresql://u@h:5432/db"
    )
    assert redact_dsn("postgres://u@h/db") == "postgres://u@h/db"
    assert "p@ss" not in redact_dsn("postgresql://u:p@ss@h/db")


async def test_a_session_opened_on_one_instance_resumes_on_another(
    postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    options: dict[str, Any] = {
        "database_url": postgres_dsn,
        "project_id": PROJECT[0],
        "project_token": PROJECT[1],
    }
    async with LocalServer(**options) as one, LocalServer(**options) as two:
        alice, bob = await one.token("alice"), await one.token("bob")
        b_addr = await one.address_of("bob")
        api_one, api_two = Api(one, session), Api(two, session)
        first = Rpc(await session.ws_connect(one.ws_url + "/"))
        await first.connect(bob)
        acked = await api_one.send(alice, b_addr, "acked on one")
        assert (await first.event())["params"]["params"]["id"] == acked["id"]
        unacked = await api_two.send(alice, b_addr, "sent through two")
        await first.close()
        await one.state.hub.save(touch_all=True)
        later = await api_two.send(alice, b_addr, "while away")
        second = Rpc(await session.ws_connect(two.ws_url + "/"))
        try:
            answer = await second.connect(bob, protocol=first.protocol)
            assert answer["result"]["protocol"] == first.protocol
            replayed = [(await second.event())["params"]["params"]["id"] for _ in range(2)]
            assert replayed == [unacked["id"], later["id"]]  # not the acked one, in order
        finally:
            await second.close()


async def test_a_resume_on_another_instance_closes_the_socket_still_open_on_the_first(
    postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    options: dict[str, Any] = {
        "database_url": postgres_dsn,
        "project_id": PROJECT[0],
        "project_token": PROJECT[1],
    }
    async with LocalServer(**options) as one, LocalServer(**options) as two:
        alice, bob = await one.token("alice"), await one.token("bob")
        b_addr = await one.address_of("bob")
        api_one = Api(one, session)
        first = Rpc(await session.ws_connect(one.ws_url + "/"))
        await first.connect(bob)
        before = await api_one.send(alice, b_addr, "before the move")
        assert (await first.event())["params"]["params"]["id"] == before["id"]
        live = one.state.hub.live(first.protocol)
        assert live is not None
        store = one.state.store
        for _ in range(500):  # until the ack has reached the server (or is saved already)
            if live.unsaved or await store.backlog(first.protocol, live.subscriber_id) == 0:
                break
            await asyncio.sleep(0.01)
        await one.state.hub.save(touch_all=True)
        second = Rpc(await session.ws_connect(two.ws_url + "/"))
        try:  # the first socket is still open: its client moved without closing it
            answer = await second.connect(bob, protocol=first.protocol)
            assert answer["result"]["protocol"] == first.protocol
            frames = []  # what the first socket gets from now on: no event, then the close
            async with asyncio.timeout(10):
                while (message := await first.ws.receive()).type == aiohttp.WSMsgType.TEXT:
                    frames.append(msgspec.json.decode(message.data))
            assert message.type == aiohttp.WSMsgType.CLOSE, (message, frames)
            assert (message.data, message.extra) == (1000, "session resumed elsewhere")
            assert all(frame.get("method") != SIGNALWIRE_EVENT for frame in frames), frames
            assert one.state.hub.live(first.protocol) is None
            after = await api_one.send(alice, b_addr, "after the move")  # sent through one
            event = await second.event()
            assert event["params"]["params"]["id"] == after["id"]  # once, on the new socket
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await second.event()
        finally:
            await second.close()
            await first.close()


async def test_the_store_reads_on_after_postgresql_restarts(
    postgres_cluster: TemporaryCluster, postgres_dsn: str
) -> None:
    store = PostgresStore(postgres_dsn)
    await store.open()
    try:
        group_id, subscriber_id, address_id = await _conversation(store, "room")
        before, _ = await store.insert_message(
            _draft(group_id, subscriber_id, address_id, "before"), None
        )
        await asyncio.gather(*(store.get_setting("x") for _ in range(8)))  # several connections
        postgres_cluster.restart()  # every pooled connection is gone
        for _ in range(8):  # no read fails: the one meeting a dead connection reads again
            assert (await store.message_at(group_id, 1)) == before
        after, _ = await store.insert_message(
            _draft(group_id, subscriber_id, address_id, "after"), None
        )
        assert after.seq == 2
    finally:
        await store.close()


async def test_while_postgresql_is_down_requests_get_503_with_retry_after_then_work_again(
    postgres_cluster: TemporaryCluster, postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    async with LocalServer(database_url=postgres_dsn) as server:
        alice = await server.token("alice")
        headers = {"Authorization": f"Bearer {alice}"}
        url = server.base_url + "/api/fabric/subscriber/info"
        postgres_cluster.stop()
        try:
            async with session.get(url, headers=headers) as response:
                assert response.status == 503
                assert response.headers["Retry-After"] == "1"
                body = await response.json()
                assert body["errors"][0]["message"] == "the store is unavailable; retry shortly"
        finally:
            postgres_cluster.start()
        async with session.get(url, headers=headers) as response:
            assert response.status == 200
        assert server.state.stats.unexpected == 0


async def test_a_socket_catching_up_while_postgresql_is_down_stays_and_delivers_after(
    postgres_cluster: TemporaryCluster, postgres_dsn: str, session: aiohttp.ClientSession
) -> None:
    async with LocalServer(database_url=postgres_dsn) as server:
        alice, bob = await server.token("alice"), await server.token("bob")
        b_addr = await server.address_of("bob")
        api = Api(server, session)
        rpc = Rpc(await session.ws_connect(server.ws_url + "/"))
        try:
            await rpc.connect(bob)
            first = await api.send(alice, b_addr, "before")
            assert (await rpc.event())["params"]["params"]["id"] == first["id"]
            live = server.state.hub.live(rpc.protocol)
            assert live is not None
            postgres_cluster.stop()
            try:
                live.catch_up()  # the socket reads from the store, which is down
                await asyncio.sleep(0.3)
            finally:
                postgres_cluster.start()
            after = await api.send(alice, b_addr, "after")
            assert (await rpc.event())["params"]["params"]["id"] == after["id"]
            assert not rpc.ws.closed
        finally:
            await rpc.close()
