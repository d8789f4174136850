"""Figure ``ingest``: messages per second the server accepts and stores from 32 senders.

Thirty-two subscribers, each in its own 1:1 conversation, POST messages with plain aiohttp (so
the client is never the bottleneck) as fast as the server answers. The reference is the store
alone: ``SqliteStore.insert_message`` from 32 coroutines in-process on the same file, with the
same idempotency keys, i.e. what is left when HTTP, auth and the event fan-out are taken away.
Runs alternate between the two. The SQLite settings the server uses are reported with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from fabric_chat_server.sqlite_store import PRAGMAS, SqliteStore
from fabric_chat_server.store import MessageRecord

from ._results import FigureResult
from ._server import BenchServer, ListeningProcess, RawCaller
from ._stats import Stat, alternate, ratio_stat

__all__ = ["SENDERS", "run", "sqlite_settings"]

SENDERS = 32
STORE_TARGET = 0.8
BARE_TARGET = 0.5
SEQUENTIAL_TARGET = 1.5


def sqlite_settings(db_path: Path | None = None) -> dict[str, Any]:
    """Return the SQLite settings the server's store uses.

    The store's ``PRAGMAS`` (what ``SqliteStore.open`` runs), the SQLite library version, and,
    given a database file the server has opened, the journal mode recorded in it.
    """
    settings: dict[str, Any] = {
        "sqlite_version": sqlite3.sqlite_version,
        "store": "SqliteStore (aiosqlite, one connection, writes serialized by one lock)",
    }
    settings.update(PRAGMAS)
    if db_path is not None and db_path.exists():
        with sqlite3.connect(db_path) as db:
            settings["journal_mode_in_file"] = db.execute("PRAGMA journal_mode").fetchone()[0]
            settings["page_size"] = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
    return settings


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the ingest figure (messages stored per second)."""
    per_sender = 3 if quick else 10
    rounds, batches = (2, 1) if quick else (7, 3)
    total = SENDERS * per_sender
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        async with (
            BenchServer(Path(tmp)) as server,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=SENDERS)) as session,
        ):
            references = [f"sender{index}" for index in range(SENDERS)]
            tokens = await server.tokens([*references, "sink"])
            sink = RawCaller(server.base_url, tokens[-1])
            await sink.setup(session)
            senders = [RawCaller(server.base_url, token) for token in tokens[:-1]]
            groups: list[str] = []
            for sender in senders:
                await sender.setup(session)
                groups.append(await sender.join(session, sink.me))

            async def http() -> float:
                async def sender_loop(caller: RawCaller, group_id: str) -> None:
                    for index in range(per_sender):
                        await caller.send(session, group_id, f"ingest {index}")

                started = time.perf_counter()
                async with asyncio.TaskGroup() as tasks:
                    for caller, group_id in zip(senders, groups, strict=True):
                        tasks.create_task(sender_loop(caller, group_id))
                return total / (time.perf_counter() - started)

            with sqlite3.connect(server.db_path) as db:
                owners = dict(db.execute("SELECT id, subscriber_id FROM addresses").fetchall())
            db.close()
            store = SqliteStore(server.db_path)
            await store.open()
            try:

                async def direct() -> float:
                    async def sender_loop(caller: RawCaller, group_id: str) -> None:
                        owner = owners[caller.me]
                        for index in range(per_sender):
                            record = MessageRecord(
                                id=str(uuid.uuid4()),
                                group_id=group_id,
                                from_address_id=caller.me,
                                subscriber_id=owner,
                                user_name="Sender",
                                ts=0.0,
                                type="message",
                                subtype="chat",
                                kind=None,
                                text=f"direct {index}",
                                metadata={},
                                details={},
                            )
                            await store.insert_message(record, (owner, str(uuid.uuid4())))

                    started = time.perf_counter()
                    async with asyncio.TaskGroup() as tasks:
                        for caller, group_id in zip(senders, groups, strict=True):
                            tasks.create_task(sender_loop(caller, group_id))
                    return total / (time.perf_counter() - started)

                store_rates, http_rates = await alternate(
                    rounds, direct, http, batches=batches, higher_is_better=True
                )
            finally:
                await store.close()
            with sqlite3.connect(server.db_path) as db:
                stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            db.close()
            settings = sqlite_settings(server.db_path)
            bare = ListeningProcess("bench._rawhub", [], log_path=Path(tmp) / "bare.log")
            await bare.start()
            try:
                bare_senders = [RawCaller(bare.base_url, "unused") for _ in senders]
                for raw, real in zip(bare_senders, senders, strict=True):
                    raw.me = real.me

                def rate(callers: list[RawCaller], in_flight: int, count: int) -> Any:
                    async def run_batch() -> float:
                        async def loop(caller: RawCaller, group_id: str, n: int) -> None:
                            for index in range(n):
                                await caller.send(session, group_id, f"bare {index}")

                        started = time.perf_counter()
                        async with asyncio.TaskGroup() as tasks:
                            for caller, group_id in list(zip(callers, groups, strict=True))[
                                :in_flight
                            ]:
                                tasks.create_task(loop(caller, group_id, count // in_flight))
                        return (count // in_flight * in_flight) / (time.perf_counter() - started)

                    return run_batch

                bare32, http32 = await alternate(
                    rounds,
                    rate(bare_senders, SENDERS, total),
                    rate(senders, SENDERS, total),
                    batches=batches,
                    higher_is_better=True,
                )
                sequential = per_sender * 8
                bare1, http1 = await alternate(
                    rounds,
                    rate(bare_senders, 1, sequential),
                    rate(senders, 1, sequential),
                    batches=batches,
                    higher_is_better=True,
                )
            finally:
                await bare.stop()
            with sqlite3.connect(server.db_path) as db:
                stored_after = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            db.close()
    expected = (len(http_rates) * batches + 1) * total * 2
    assert stored == expected, f"{stored} messages stored, {expected} sent"
    sent_later = (len(http32) * batches + 1) * total + (len(http1) * batches + 1) * sequential
    assert stored_after == stored + sent_later, "every send to the server was stored"
    share = ratio_stat(http_rates, store_rates)
    versus_bare = ratio_stat(http32, bare32)
    time_ratio = ratio_stat(bare1, http1)  # rates: bare / server = server time / bare time
    return [
        FigureResult(
            figure="ingest",
            what=f"messages accepted and stored from {SENDERS} concurrent HTTP senders (msg/s)",
            target=f"ingest >= {STORE_TARGET}x the store alone",
            value=Stat.of(http_rates, "msg/s"),
            baseline=Stat.of(store_rates, "msg/s"),
            ratio=share,
            ratio_meaning="server rate / store rate",
            met=share.median >= STORE_TARGET,
            extra={
                "server share of the store's rate": share,
            },
            notes={
                "senders": SENDERS,
                "run": f"best of {batches} alternating batches of {total} messages per side",
                "stored_total_checked": stored,
                "baseline": "SqliteStore.insert_message from 32 coroutines in-process",
                "sqlite": settings,
            },
        ),
        FigureResult(
            figure="ingest vs bare handler",
            what=f"sends stored from {SENDERS} senders vs a bare aiohttp+msgspec handler "
            f"answering the same POST, {SENDERS} in flight (msg/s)",
            target=f"server >= {BARE_TARGET}x the bare handler",
            value=Stat.of(http32, "msg/s"),
            baseline=Stat.of(bare32, "req/s"),
            ratio=versus_bare,
            ratio_meaning="server rate / bare rate",
            met=versus_bare.median >= BARE_TARGET,
            notes={"bare handler": "bench._rawhub POST /api/fabric/messages (same bytes out)"},
        ),
        FigureResult(
            figure="send vs bare handler",
            what="one send at a time vs the bare handler answering the same POST (msg/s)",
            target=f"server time <= {SEQUENTIAL_TARGET}x the bare handler's",
            value=Stat.of(http1, "msg/s"),
            baseline=Stat.of(bare1, "req/s"),
            ratio=time_ratio,
            ratio_meaning="server time / bare time",
            met=time_ratio.median <= SEQUENTIAL_TARGET,
            notes={"bare handler": "bench._rawhub POST /api/fabric/messages (same bytes out)"},
        ),
    ]
