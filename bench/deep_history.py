"""Figure ``deep history``: a page 1,000,000 messages deep against the first page.

The conversation is seeded straight into the server's SQLite file (one ``executemany`` in one
transaction, the schema of ``sqlite_store.py``) while the server is stopped. A page token at
depth is built the way the server's pagination module builds one (``PageTokens.encode`` with the
keyset position of the message at that depth), so no ``next`` links are walked. Timed twice:
the HTTP route (raw aiohttp GET, token at depth vs no token) and the store's keyset query
(``SqliteStore.list_page``) in-process. ``LIMIT ... OFFSET`` at the same depth is timed once for
contrast.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import msgspec
from fabric_chat.models import ConversationMessagePage
from fabric_chat_server.pagination import PageTokens
from fabric_chat_server.sqlite_store import SqliteStore

from ._results import FigureResult
from ._server import BenchServer, Pair, open_pair
from ._stats import Stat, alternate, ratio_stat

__all__ = ["run", "seed"]

PAGE_SIZE = 100
TARGET = 1.5
_SCOPE: Final = "conversation_messages"


def _message_id(index: int) -> str:
    return f"{index:08x}-0000-4000-8000-{index:012x}"


def seed(db_path: Path, pair: Pair, count: int, base_ts: float) -> float:
    """Insert ``count`` chat messages from alice into the pair's conversation; return seconds.

    Message ``index`` (0 is the oldest) has ``ts = base_ts + index / 1000``.
    """
    rows: Iterator[tuple[Any, ...]] = (
        (
            _message_id(index),
            pair.group_id,
            pair.alice.me,
            "seeded",
            "Alice",
            base_ts + index / 1000,
            "message",
            "chat",
            None,
            f"seeded message {index}",
            "{}",
            "{}",
            0,
        )
        for index in range(count)
    )
    started = time.perf_counter()
    with sqlite3.connect(db_path) as db:
        subscriber = db.execute(
            "SELECT subscriber_id FROM addresses WHERE id = ?", (pair.alice.me,)
        ).fetchone()[0]
        last_seq = db.execute(
            "SELECT last_seq FROM conversations WHERE group_id = ?", (pair.group_id,)
        ).fetchone()[0]
        db.executemany(  # each message takes the next seq of its conversation, as the store does
            "INSERT INTO messages (id, group_id, from_address_id, subscriber_id, user_name, ts, "
            "type, subtype, kind, text, metadata, details, hidden, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (row[0], row[1], row[2], subscriber, *row[4:], last_seq + 1 + index)
                for index, row in enumerate(rows)
            ),
        )
        db.execute(
            "UPDATE conversations SET last_message_at = ? WHERE group_id = ?",
            (base_ts + (count - 1) / 1000, pair.group_id),
        )
    db.close()
    return time.perf_counter() - started


def _offset_ms(db_path: Path, group_id: str, depth: int) -> float:
    with sqlite3.connect(db_path) as db:
        started = time.perf_counter()
        rows = db.execute(
            "SELECT id FROM messages WHERE group_id = ? ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?",
            (group_id, PAGE_SIZE, depth),
        ).fetchall()
        elapsed = (time.perf_counter() - started) * 1e3
    db.close()
    assert len(rows) == PAGE_SIZE
    return elapsed


async def run(*, quick: bool) -> list[FigureResult]:
    """Measure the deep history figure (milliseconds per page, deep vs first)."""
    depth = 20_000 if quick else 1_000_000
    calls, batches = (5, 2) if quick else (20, 5)
    rounds = 2 if quick else 7
    count = depth + 2 * PAGE_SIZE
    with tempfile.TemporaryDirectory(prefix="fabric-chat-bench-") as tmp:
        server = BenchServer(Path(tmp))
        async with aiohttp.ClientSession() as session:
            async with server:
                pair = await open_pair(server, session)
            base_ts = time.time() - count / 1000 - 3600
            seed_seconds = seed(server.db_path, pair, count, base_ts)
            # The message at ``depth`` from the newest; the deep page starts just past it.
            anchor = count - depth
            position = (base_ts + anchor / 1000, _message_id(anchor))
            scope = f"{_SCOPE}:{pair.group_id}"
            token = PageTokens(server.jwt_secret).encode("older", position, scope)
            decode = msgspec.json.Decoder(ConversationMessagePage).decode
            async with server:  # on the seeded file, on a new port
                url = (
                    f"{server.base_url}/api/fabric/conversations/{pair.group_id}/messages"
                    f"?page_size={PAGE_SIZE}"
                )
                headers = pair.alice.headers

                def http(page_url: str, first_id: str) -> Callable[[], Awaitable[float]]:
                    async def measure() -> float:
                        started = time.perf_counter()
                        for _ in range(calls):
                            async with session.get(page_url, headers=headers) as answer:
                                page = decode(await answer.read())
                        elapsed = (time.perf_counter() - started) / calls * 1e3
                        assert len(page.data) == PAGE_SIZE
                        assert page.data[0].id == first_id
                        return elapsed

                    return measure

                first_http, deep_http = await alternate(
                    rounds,
                    http(url, _message_id(count - 1)),
                    http(f"{url}&page_token={token}", _message_id(anchor - 1)),
                    batches=batches,
                )
                store = SqliteStore(server.db_path)
                await store.open()
                try:

                    def query(at: tuple[float, str] | None) -> Callable[[], Awaitable[float]]:
                        async def measure() -> float:
                            started = time.perf_counter()
                            for _ in range(calls):
                                items = await store.list_page(
                                    _SCOPE, pair.group_id, at, "older", PAGE_SIZE
                                )
                            assert len(items) == PAGE_SIZE
                            return (time.perf_counter() - started) / calls * 1e3

                        return measure

                    first_store, deep_store = await alternate(
                        rounds, query(None), query(position), batches=batches
                    )
                finally:
                    await store.close()
                offset_ms = _offset_ms(server.db_path, pair.group_id, depth)
    ratio = ratio_stat(deep_http, first_http)
    return [
        FigureResult(
            figure="deep history",
            what=f"page at {depth:,} messages deep vs first page, HTTP route (ms/page)",
            target=f"deep <= {TARGET:g}x first (keyset, not OFFSET)",
            value=Stat.of(deep_http, "ms"),
            baseline=Stat.of(first_http, "ms"),
            ratio=ratio,
            ratio_meaning="deep time / first-page time",
            met=ratio.median <= TARGET,
            extra={
                "store keyset query, deep": Stat.of(deep_store, "ms"),
                "store keyset query, first page": Stat.of(first_store, "ms"),
                "store deep / first": ratio_stat(deep_store, first_store),
                "for contrast: LIMIT/OFFSET at the same depth (once)": Stat.of([offset_ms], "ms"),
            },
            notes={
                "messages_in_conversation": count,
                "depth": depth,
                "page_size": PAGE_SIZE,
                "seed_seconds": round(seed_seconds, 1),
                "run": f"best of {batches} alternating batches of {calls} calls per side",
            },
        )
    ]
