"""PostgreSQL ``LISTEN/NOTIFY`` as the bus between instances: positions only, after commit.

What goes over it, and how:

- **After commit, in batches.** A ``NOTIFY`` inside the sending transaction takes a global lock
  until commit (measured on a 2-core machine: 3,014 durable commits/s without, 1,452 with), so
  positions are published after the store committed them, and everything published while the
  previous ``NOTIFY`` was in flight goes in the next one: one round trip per batch, not per
  message. A batch is split so that each payload stays under :data:`MAX_PAYLOAD` bytes
  (PostgreSQL refuses 8,000). Payload: ``[instance, [[group_id, first_seq, last_seq], ...]]``.
- **Two connections of its own.** ``NOTIFY`` goes over one, ``LISTEN`` sits on the other, so a
  batch never waits behind the listener's keepalive and the other way round.
- **A listener that is known to be alive.** asyncpg does not notice a dead ``LISTEN``
  connection until a TCP timeout (asyncpg issue #519), so the listener is pinged every
  ``ping_interval`` seconds with a short timeout; a failed ping (or the connection's
  termination) replaces the connection, with backoff, and asks for a **re-sync**: every live
  session reads what lies beyond its positions from the store. A re-sync also runs every
  ``resync_interval`` seconds, so that a notification lost without notice (its sender died
  before sending it) delays a delivery by at most that long, and never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from .bus import SESSION_CLOSED, BusPosition, OnPositions, OnResync

__all__ = ["CHANNEL", "MAX_PAYLOAD", "PostgresBus", "decode_payload", "encode_payloads"]

logger = logging.getLogger(__name__)

CHANNEL = "fabric_chat_positions"
"""The ``LISTEN/NOTIFY`` channel."""

MAX_PAYLOAD = 7_900
"""Most bytes in one notification (PostgreSQL's limit is 8,000, the channel name included)."""

LISTEN_NAME = "fabric-chat-listen"
NOTIFY_NAME = "fabric-chat-notify"
"""``application_name`` of the bus's connections (what ``pg_stat_activity`` shows)."""

_MAX_RUN = 100_000  # a received range longer than this is not expanded: re-sync instead
_Run = tuple[str, int, int]
_decode = msgspec.json.Decoder(tuple[str, list[tuple[str, int, int]]]).decode
_encode = msgspec.json.Encoder().encode


def _runs(positions: Sequence[BusPosition]) -> Iterator[_Run]:
    """Fold positions into runs ``(group_id, first, last)`` of consecutive ``seq``."""
    by_group: dict[str, list[int]] = {}
    for group_id, seq in positions:
        by_group.setdefault(group_id, []).append(seq)
    for group_id, seqs in by_group.items():
        seqs = sorted(set(seqs))
        first = last = seqs[0]
        for seq in seqs[1:]:
            if seq != last + 1:
                yield group_id, first, last
                first = seq
            last = seq
        yield group_id, first, last


def encode_payloads(instance: str, positions: Sequence[BusPosition]) -> list[str]:
    """Return the notification payloads carrying ``positions``, each under :data:`MAX_PAYLOAD`."""
    payloads: list[str] = []
    chunk: list[_Run] = []
    size = len(instance) + 16
    for run in _runs(positions):
        cost = len(run[0]) + 2 * 20 + 8  # the group id, two integers, quotes and commas
        if chunk and size + cost > MAX_PAYLOAD:
            payloads.append(_encode((instance, chunk)).decode())
            chunk, size = [], len(instance) + 16
        chunk.append(run)
        size += cost
    if chunk:
        payloads.append(_encode((instance, chunk)).decode())
    return payloads


def decode_payload(payload: str) -> tuple[str, list[BusPosition]] | None:
    """Return ``(instance, positions)`` of a payload; ``None`` when it is not one of ours."""
    try:
        instance, runs = _decode(payload)
    except msgspec.DecodeError:
        return None
    positions: list[BusPosition] = []
    for group_id, first, last in runs:
        if first == last == SESSION_CLOSED:
            positions.append((group_id, SESSION_CLOSED))
            continue
        if first < 0 or last < first or last - first > _MAX_RUN:
            return None
        positions.extend((group_id, seq) for seq in range(first, last + 1))
    return instance, positions


class PostgresBus:
    """The bus over PostgreSQL ``LISTEN/NOTIFY`` (see the module docstring).

    Args:
        dsn: The database (``postgresql://...``), the same one the store uses.
        channel: The notification channel.
        ping_interval: Seconds between pings of the listener connection.
        ping_timeout: Seconds a ping may take before the connection counts as dead.
        resync_interval: Seconds between periodic re-syncs.
        max_pending: Positions kept while ``NOTIFY`` cannot be sent; beyond it they are
            dropped (the other instances' periodic re-sync delivers them).
        connect_timeout: Seconds a connection attempt may take.
    """

    def __init__(
        self,
        dsn: str,
        *,
        channel: str = CHANNEL,
        ping_interval: float = 1.0,
        ping_timeout: float = 1.0,
        resync_interval: float = 5.0,
        max_pending: int = 65_536,
        connect_timeout: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._resync_interval = resync_interval
        self._max_pending = max_pending
        self._connect_timeout = connect_timeout
        self.instance = uuid.uuid4().hex[:16]
        self._own_prefix = _encode((self.instance, [])).decode()[:-3]  # '["<instance>",'
        self._pending: list[BusPosition] = []
        self._wake = asyncio.Event()
        self._check_now = asyncio.Event()
        self._listen: Any = None  # asyncpg.Connection
        self._notify: Any = None
        self._listening = False
        self._on_positions: OnPositions | None = None
        self._on_resync: OnResync | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.notifications_sent = 0
        self.reconnects = 0

    def __repr__(self) -> str:
        return f"PostgresBus(instance={self.instance!r}, channel={self._channel!r})"

    async def _connect(self, name: str) -> Any:
        import asyncpg

        try:
            return await asyncpg.connect(
                self._dsn,
                timeout=self._connect_timeout,
                server_settings={"application_name": name},
            )
        except Exception as exc:  # refused, timed out, starting up, shutting down...
            raise OSError(f"cannot reach PostgreSQL for the bus: {type(exc).__name__}") from None

    async def start(self, on_positions: OnPositions, on_resync: OnResync) -> None:
        """Connect both connections, listen, and start the keepalive and the notifier."""
        self._on_positions, self._on_resync = on_positions, on_resync
        await self._open_listener()
        try:
            self._notify = await self._connect(NOTIFY_NAME)
        except BaseException:
            await self.close()
            raise
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._keep_listening(), name="fabric-chat-bus-listen"),
            loop.create_task(self._send_forever(), name="fabric-chat-bus-notify"),
        ]

    async def _open_listener(self) -> None:
        conn = await self._connect(LISTEN_NAME)
        try:
            await conn.add_listener(self._channel, self._heard)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(lambda _conn: self._check_now.set())
        self._listen, self._listening = conn, True

    def publish(self, group_id: str, seq: int) -> None:
        """Queue a committed position for the next ``NOTIFY`` (sent as soon as the loop turns)."""
        if len(self._pending) >= self._max_pending:
            logger.warning("bus: %d positions pending, dropping them", len(self._pending))
            self._pending.clear()
        self._pending.append((group_id, seq))
        self._wake.set()

    def problems(self) -> list[str]:
        """Name what is down: the listener connection (the notifier retries on its own)."""
        if self._listening:
            return []
        return ["the LISTEN connection to PostgreSQL is down (reconnecting)"]

    async def close(self) -> None:
        """Stop the tasks and close both connections."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listening = False
        for conn in (self._listen, self._notify):
            await _close(conn)
        self._listen = self._notify = None

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if payload.startswith(self._own_prefix):
            return  # this instance's own notification: every instance hears every one
        decoded = decode_payload(payload)
        if decoded is None:
            logger.warning("bus: a notification that is not ours; re-syncing")
            self._resync()
            return
        instance, positions = decoded
        if instance != self.instance and positions and self._on_positions is not None:
            self._on_positions(positions)

    def _resync(self) -> None:
        if self._on_resync is not None:
            self._on_resync()

    async def _keep_listening(self) -> None:
        """Ping the listener; replace it when it fails; re-sync after that and periodically."""
        last_resync = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval):
                    await self._check_now.wait()
            self._check_now.clear()
            if not await self._alive(self._listen):
                self._listening = False
                logger.warning("bus: the LISTEN connection is down; reconnecting")
                await _close(self._listen)
                self._listen = None
                await self._retry(self._open_listener)
                self.reconnects += 1
                logger.warning("bus: listening again; re-syncing every session")
                self._resync()
                last_resync = time.monotonic()
            elif time.monotonic() - last_resync >= self._resync_interval:
                self._resync()
                last_resync = time.monotonic()

    async def _alive(self, conn: Any) -> bool:
        if conn is None or conn.is_closed():
            return False
        try:
            async with asyncio.timeout(self._ping_timeout):
                await conn.fetchval("SELECT 1")
        except Exception:
            return False
        return True

    async def _retry(self, connect: Any) -> None:
        """Call ``connect`` until it succeeds, backing off from 0.1 s to 2 s."""
        delay = 0.1
        while True:
            try:
                await connect()
                return
            except OSError:
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def _send_forever(self) -> None:
        """Send what was published, one ``NOTIFY`` per payload, in order, batch after batch."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                for payload in encode_payloads(self.instance, batch):
                    await self._notify_once(payload)

    async def _notify_once(self, payload: str) -> None:
        """Send one payload, replacing the connection until it goes through."""
        while True:
            conn = self._notify
            if conn is not None and not conn.is_closed():
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", self._channel, payload)
                    self.notifications_sent += 1
                    return
                except Exception as exc:
                    logger.warning("bus: NOTIFY failed (%s); reconnecting", type(exc).__name__)
            await _close(conn)
            self._notify = None

            async def reconnect() -> None:
                self._notify = await self._connect(NOTIFY_NAME)

            await self._retry(reconnect)


async def _close(conn: Any) -> None:
    """Close a connection politely when it answers, else cut it."""
    if conn is None or conn.is_closed():
        return
    try:
        async with asyncio.timeout(1.0):
            await conn.close()
    except Exception:
        conn.terminate()
