"""The PostgreSQL bus: positions between instances, split under the payload limit, and a
listener that comes back (and asks for a re-sync) after its connection is killed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence

import pytest
from fabric_chat_server.bus import SESSION_CLOSED, BusPosition
from fabric_chat_server.bus_postgres import (
    LISTEN_NAME,
    MAX_PAYLOAD,
    PostgresBus,
    decode_payload,
    encode_payloads,
)
from fabric_chat_server.postgres_cluster import TemporaryCluster


class Ears:
    """What a bus heard, and how often it asked for a re-sync."""

    def __init__(self) -> None:
        self.heard: list[BusPosition] = []
        self.resyncs = 0
        self.changed = asyncio.Event()

    def positions(self, positions: Sequence[BusPosition]) -> None:
        self.heard.extend(positions)
        self.changed.set()

    def resync(self) -> None:
        self.resyncs += 1
        self.changed.set()

    async def until(self, predicate: object, within: float = 10.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


def test_payloads_stay_under_the_limit_and_carry_every_position() -> None:
    rng = random.Random(7)
    groups = [f"{rng.getrandbits(128):032x}-group" for _ in range(300)]
    positions = [(rng.choice(groups), rng.randrange(1, 10**12)) for _ in range(5000)]
    positions += [(groups[0], seq) for seq in range(1, 20_001)]  # a long run folds into one
    payloads = encode_payloads("instance-1", positions)
    assert len(payloads) > 1
    heard: set[BusPosition] = set()
    for payload in payloads:
        assert len(payload.encode()) < MAX_PAYLOAD
        decoded = decode_payload(payload)
        assert decoded is not None
        assert decoded[0] == "instance-1"
        heard.update(decoded[1])
    assert heard == set(positions)


def test_a_payload_that_is_not_ours_is_refused() -> None:
    for payload in ("", "{}", '["x", [["g", 5, 2]]]', '["x", [["g", 1, 999999999]]]', "[1,2]"):
        assert decode_payload(payload) is None
    for payload in ('["x", [["p", -2, -2]]]', '["x", [["p", -1, 0]]]', '["x", [["p", -1, 3]]]'):
        assert decode_payload(payload) is None


def test_a_closed_session_travels_beside_positions() -> None:
    positions = [("g", 1), ("signalwire_jti_protocol", SESSION_CLOSED), ("g", 2)]
    (payload,) = encode_payloads("instance-1", positions)
    assert decode_payload(payload) == ("instance-1", sorted(positions))


@pytest.fixture
async def buses(postgres_dsn: str) -> AsyncIterator[tuple[PostgresBus, PostgresBus, Ears, Ears]]:
    one = PostgresBus(postgres_dsn, ping_interval=0.1, ping_timeout=0.5, resync_interval=3600)
    two = PostgresBus(postgres_dsn, ping_interval=0.1, ping_timeout=0.5, resync_interval=3600)
    ears_one, ears_two = Ears(), Ears()
    await one.start(ears_one.positions, ears_one.resync)
    await two.start(ears_two.positions, ears_two.resync)
    try:
        yield one, two, ears_one, ears_two
    finally:
        await one.close()
        await two.close()


async def test_positions_reach_the_other_instances_only(
    buses: tuple[PostgresBus, PostgresBus, Ears, Ears],
) -> None:
    one, two, ears_one, ears_two = buses
    sent = [(f"group-{g}", seq) for g in range(400) for seq in range(1, 6)]  # several payloads
    for group_id, seq in sent:
        one.publish(group_id, seq)
    two.publish("from-two", 1)
    await ears_two.until(lambda: len(ears_two.heard) >= len(sent))
    await ears_one.until(lambda: ears_one.heard)
    await asyncio.sleep(0.2)  # nothing more arrives
    assert sorted(ears_two.heard) == sorted(sent)
    assert ears_one.heard == [("from-two", 1)]
    assert one.notifications_sent > 1  # split under the payload limit
    assert one.problems() == two.problems() == []


async def test_a_killed_listener_comes_back_and_asks_for_a_resync(
    buses: tuple[PostgresBus, PostgresBus, Ears, Ears], postgres_cluster: TemporaryCluster
) -> None:
    one, two, ears_one, ears_two = buses
    killed = postgres_cluster.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE application_name = '{LISTEN_NAME}'"
    )
    assert killed.strip() == "2"
    await ears_two.until(lambda: ears_two.resyncs >= 1)
    await ears_one.until(lambda: ears_one.resyncs >= 1)
    assert two.reconnects == 1
    assert two.problems() == []
    one.publish("after", 1)
    await ears_two.until(lambda: ("after", 1) in ears_two.heard)
