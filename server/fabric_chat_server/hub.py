"""Live sessions and sockets, delivering events from positions.

A session (what a ``protocol`` names) lives in the store as its positions: per conversation,
the last ``seq`` its client acked (see :mod:`~fabric_chat_server.store`). While a socket is
attached, a :class:`LiveSession` holds, per conversation, the last ``seq`` queued on that socket,
the acks not yet saved, and a :class:`Channel`: a bounded queue drained by the socket's writer.
Nothing else is kept, so memory grows with open sockets and conversations, never with events.

A message event goes straight into the queue when it is the next ``seq`` of its conversation
for that socket and the queue has room. An event that comes before the one it follows (two
senders' commits answered out of order, or one from another instance overtaking the bus) waits
up to :data:`REORDER_WINDOW` for the missing one, at most :data:`REORDER_LIMIT` per socket.
Otherwise (a gap that did not close, a full queue, a replay under way) the
session is marked as catching up and its pump (:meth:`LiveSession.pump`) reads what follows
its positions from the store in bounded batches, waiting for room in the queue, in order, until
it has caught up. A resume is the same pump started from the acked positions. A socket whose
queue has had no room for ``stall_timeout`` seconds stops reading and is dropped; nobody else
waits on it.

Acks move the in-memory positions; :meth:`Hub.save` writes them (and marks the live sessions
seen) in one transaction, periodically and when a socket closes. A resume first waits for the
saves of its session under way here (:meth:`Hub.settled`): it would otherwise read positions
older than the acks of the socket that just closed and send an acked event again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import WSMsgType, web

from .store import MessageRecord, Positions, SessionRecord, Store, StoreUnavailableError

__all__ = [
    "RECHECK_DELAY",
    "REORDER_LIMIT",
    "REORDER_WINDOW",
    "STORE_RETRY_SECONDS",
    "Channel",
    "EventFrames",
    "Hub",
    "LiveSession",
    "event_id_of",
    "position_of",
]

logger = logging.getLogger(__name__)

STORE_RETRY_SECONDS = 0.5
"""How long a socket's catch-up waits before reading again from a store that was unavailable."""

REORDER_WINDOW = 0.02
"""Seconds an event ahead of a gap waits for the events before it; then the store fills the gap."""

REORDER_LIMIT = 64
"""Events a socket holds ahead of gaps at most; beyond it the store fills the gaps."""

RECHECK_DELAY = 0.5
"""Seconds a re-sync waits before it sends a session to the store for what it found missing.

What a re-sync finds beyond a live session's positions is nearly always in flight (committed,
about to be offered live); the session catches up only if it still lacks it after this delay.
"""

EventFrames = Callable[[MessageRecord, str], Awaitable[tuple[str, bytes] | None]]
"""Encode a message as the event a subscriber receives: ``(record, subscriber id)`` -> frame."""


def event_id_of(group_id: str, seq: int) -> str:
    """Return the event id of a message event: its position, the same on every resend."""
    return f"{group_id}.{seq}"


def position_of(event_id: str) -> tuple[str, int] | None:
    """Return the ``(group id, seq)`` an event id names, or ``None`` for another id."""
    group_id, _, seq = event_id.rpartition(".")
    if not group_id or not seq.isdigit() or len(seq) > 18:
        return None
    return group_id, int(seq)


class Channel:
    """One open WebSocket and its bounded send queue.

    Args:
        ws: The prepared WebSocket.
        queue_size: Frames buffered for the socket.
        abort: Cuts the connection at once (a socket that stopped reading).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        queue_size: int,
        abort: Callable[[], object] | None = None,
    ) -> None:
        self.ws = ws
        self._abort = abort
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = False
        self.closed = False
        self.superseded = False

    def offer(self, frame: bytes) -> bool:
        """Queue a frame without waiting; ``False`` when closed or the queue is full."""
        if self.closed or self.overflowed:
            return False
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            return False
        return True

    async def put(self, frame: bytes, stall_timeout: float) -> bool:
        """Queue a frame, waiting for room; drop the socket when none comes in time."""
        if self.closed or self.overflowed:
            return False
        if not self._queue.full():
            self._queue.put_nowait(frame)
            return True
        try:
            async with asyncio.timeout(stall_timeout):
                await self._queue.put(frame)
        except TimeoutError:
            self.drop_stalled()
            return False
        return not (self.closed or self.overflowed)

    def drop_stalled(self) -> None:
        """Drop a socket that does not read."""
        if self.overflowed:
            return
        self.overflowed = True
        logger.warning("closing a socket that does not read")
        if self._abort is not None:
            self._abort()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def finish(self, *, superseded: bool = False) -> None:
        """Ask the writer to stop once the queued frames are sent (and close when superseded)."""
        self.closed = True
        self.superseded = self.superseded or superseded
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.overflowed = True

    async def run_writer(self) -> None:
        """Send queued frames in order until finished, overflowed or the socket closes."""
        while not self.overflowed:
            frame = await self._queue.get()
            if frame is None or self.ws.closed:
                break
            try:
                await self.ws.send_frame(frame, WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                break
        if self.overflowed and not self.ws.closed:
            await self.ws.close(code=1013, message=b"too slow")
        elif self.superseded and not self.ws.closed:
            await self.ws.close(code=1000, message=b"session resumed elsewhere")


class LiveSession:
    """A session with a socket attached here.

    Args:
        record: The stored session.
        channel: The socket.
        positions: Where the session stands (from the store): delivery starts after them.
        token_expires_at: When the socket's token expires (nothing is sent after it).
    """

    def __init__(
        self,
        record: SessionRecord,
        channel: Channel,
        positions: Positions,
        token_expires_at: float,
    ) -> None:
        self.record = record
        self.channel = channel
        self.token_expires_at = token_expires_at
        self.sent: Positions = dict(positions)  # last seq queued on the socket
        self.unsaved: Positions = {}  # acked, not yet saved
        self.catching_up = True
        self.wake = asyncio.Event()
        self.wake.set()
        self._ahead: dict[str, dict[int, bytes]] = {}  # events waiting for a gap to close
        self._held = 0
        self._gap_timer: asyncio.TimerHandle | None = None
        self._suspects: dict[str, int] = {}  # group -> a seq a re-sync found and we lacked
        self._recheck_timer: asyncio.TimerHandle | None = None

    @property
    def protocol(self) -> str:
        """The session's ``protocol``."""
        return self.record.protocol

    @property
    def subscriber_id(self) -> str:
        """Whose events it carries."""
        return self.record.subscriber_id

    def _may_send(self) -> bool:
        return time.time() < self.token_expires_at and not self.channel.closed

    def deliver(self, group_id: str, seq: int, frame: bytes) -> None:
        """Queue a live event when it is next in its conversation; else let the pump catch up."""
        if not self._may_send():
            return
        if not self.catching_up:
            last = self.sent.get(group_id)
            if last is not None and seq <= last:
                return  # already queued (the pump read it from the store)
            if last is None and seq == 1:
                last = 0  # a conversation's first message: nothing before it to miss
            if last == seq - 1:
                if self._queue(group_id, seq, frame):
                    self._release(group_id)
                    return
            elif last is not None and self._held < REORDER_LIMIT:
                self._hold(group_id, seq, frame)
                return
        self.catch_up()

    def check(self) -> None:
        """Look in the store for anything missed, without holding up live events meanwhile."""
        self.wake.set()

    def catch_up(self) -> None:
        """Drop what waits for a gap and let the pump read everything missing from the store."""
        self._ahead.clear()
        self._held = 0
        if self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None
        self.catching_up = True
        self.wake.set()

    def _queue(self, group_id: str, seq: int, frame: bytes) -> bool:
        if not self.channel.offer(frame):
            return False
        self.sent[group_id] = seq
        if not self.record.event_acks:
            self.unsaved[group_id] = seq
        return True

    def _hold(self, group_id: str, seq: int, frame: bytes) -> None:
        waiting = self._ahead.setdefault(group_id, {})
        if seq not in waiting:
            waiting[seq] = frame
            self._held += 1
        if self._gap_timer is None:
            loop = asyncio.get_running_loop()
            self._gap_timer = loop.call_later(REORDER_WINDOW, self._gap_not_closed)

    def _release(self, group_id: str) -> None:
        """Queue the held events that now follow on, in order."""
        waiting = self._ahead.get(group_id)
        if waiting is None:
            return
        while (frame := waiting.pop(self.sent[group_id] + 1, None)) is not None:
            self._held -= 1
            if not self._queue(group_id, self.sent[group_id] + 1, frame):
                self.catch_up()
                return
        if not waiting:
            del self._ahead[group_id]
        if not self._ahead and self._gap_timer is not None:
            self._gap_timer.cancel()
            self._gap_timer = None

    def _recheck_later(self, found: list[MessageRecord]) -> None:
        """Catch up after :data:`RECHECK_DELAY` unless what a re-sync found has arrived by then."""
        for record in found:
            seq = self._suspects.get(record.group_id)
            if seq is None or record.seq < seq:
                self._suspects[record.group_id] = record.seq
        if self._recheck_timer is None:
            loop = asyncio.get_running_loop()
            self._recheck_timer = loop.call_later(RECHECK_DELAY, self._recheck)

    def _recheck(self) -> None:
        self._recheck_timer = None
        suspects, self._suspects = self._suspects, {}
        if any(self.sent.get(group_id, 0) < seq for group_id, seq in suspects.items()):
            self.catch_up()  # a re-sync found what the bus missed: the pump takes over

    def _gap_not_closed(self) -> None:
        self._gap_timer = None
        if self._ahead:
            self.catch_up()

    def ack(self, event_id: str) -> bool:
        """Move the session past an acked event; ``True`` when it moved."""
        position = position_of(event_id)
        if position is None or not self.record.event_acks:
            return False
        group_id, seq = position
        if seq > self.unsaved.get(group_id, 0) and seq <= self.sent.get(group_id, 0):
            self.unsaved[group_id] = seq
            return True
        return False

    def resume_sending(self, expires_at: float) -> None:
        """Take a later token expiry and catch up on what was held back."""
        self.token_expires_at = expires_at
        self.catch_up()

    async def pump(self, store: Store, frames: EventFrames, *, batch: int, stall: float) -> None:
        """Replay from the store whatever the socket has not had, whenever woken, in order."""
        while not self.channel.closed:
            await self.wake.wait()
            while not self.channel.closed:
                self.wake.clear()
                if not self._may_send():
                    break
                try:
                    records = await store.messages_after(self.subscriber_id, dict(self.sent), batch)
                    if records and not self.catching_up:
                        self._recheck_later(records)  # in flight, or missed: look again soon
                        break
                    for record in records:
                        if record.seq <= self.sent.get(record.group_id, 0):
                            continue
                        encoded = await frames(record, self.subscriber_id)
                        if encoded is not None and not await self.channel.put(encoded[1], stall):
                            return
                        self.sent[record.group_id] = record.seq
                        if not self.record.event_acks:
                            self.unsaved[record.group_id] = record.seq
                except StoreUnavailableError:
                    # The database is restarting: keep the socket, read again in a moment.
                    logger.warning("the store is unavailable; catching up again shortly")
                    self.catching_up = True
                    self.wake.set()
                    await asyncio.sleep(STORE_RETRY_SECONDS)
                    continue
                if not records and not self.wake.is_set():
                    self.catching_up = False
                    break


class Hub:
    """Every live session of this server and the saving of their positions.

    Args:
        store: Where sessions are kept.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._live: dict[str, LiveSession] = {}
        self._by_subscriber: dict[str, set[LiveSession]] = {}
        self._saving: dict[str, set[asyncio.Future[None]]] = {}  # protocol -> saves under way

    async def _save(self, moved: dict[str, Positions]) -> None:
        """Save positions, letting :meth:`settled` wait for it until it is done."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for protocol in moved:
            self._saving.setdefault(protocol, set()).add(done)
        try:
            await self._store.save_positions(moved, time.time())
        except BaseException:
            # Not saved (the store is down, say): live sessions keep those acks for next time.
            for protocol, positions in moved.items():
                live = self._live.get(protocol)
                if live is not None:
                    for group_id, seq in positions.items():
                        if seq > live.unsaved.get(group_id, 0):
                            live.unsaved[group_id] = seq
            raise
        finally:
            done.set_result(None)
            for protocol in moved:
                pending = self._saving.get(protocol)
                if pending is not None:
                    pending.discard(done)
                    if not pending:
                        del self._saving[protocol]

    async def settled(self, protocol: str) -> None:
        """Wait until the saves of this session's positions under way here are done."""
        pending = self._saving.get(protocol)
        if pending:
            await asyncio.wait(set(pending))

    def live(self, protocol: str) -> LiveSession | None:
        """Return the session ``protocol`` when a socket holds it here."""
        return self._live.get(protocol)

    def sessions_of(self, subscriber_id: str) -> Iterable[LiveSession]:
        """Return the subscriber's live sessions."""
        return tuple(self._by_subscriber.get(subscriber_id, ()))

    def wake_all(self) -> None:
        """Make every live session look in the store for what lies beyond its positions.

        A session that finds nothing goes on as it was; one that finds something it still
        lacks :data:`RECHECK_DELAY` later (not merely in flight) catches up.
        """
        for session in self._live.values():
            session.check()

    def sockets_of(self, subscriber_id: str) -> int:
        """Return how many sockets the subscriber has open here."""
        return len(self._by_subscriber.get(subscriber_id, ()))

    def attach(self, session: LiveSession) -> None:
        """Make a session live, superseding any socket that held it before."""
        previous = self._live.get(session.protocol)
        if previous is not None:
            self._forget(previous)
            previous.channel.finish(superseded=True)
        self._live[session.protocol] = session
        self._by_subscriber.setdefault(session.subscriber_id, set()).add(session)

    async def detach(self, session: LiveSession) -> None:
        """Save a closing socket's positions; a session without acks is forgotten."""
        if self._live.get(session.protocol) is not session:
            return
        self._forget(session)
        if session.record.event_acks:
            if session.unsaved:  # else it was marked seen within the last touch (<= 5 s)
                await self._save({session.protocol: session.unsaved})
        else:
            await self._store.drop_sessions([session.protocol])

    def _forget(self, session: LiveSession) -> None:
        self._live.pop(session.protocol, None)
        sessions = self._by_subscriber.get(session.subscriber_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._by_subscriber[session.subscriber_id]

    def close(self, protocols: Iterable[str]) -> None:
        """Close the sockets of sessions that no longer exist (evicted by a newer one)."""
        for protocol in protocols:
            session = self._live.get(protocol)
            if session is not None:
                self._forget(session)
                session.channel.finish(superseded=True)

    async def touch(self, subscriber_id: str) -> None:
        """Save and mark seen the subscriber's live sessions (so none is the least recent)."""
        sessions = self._by_subscriber.get(subscriber_id, ())
        moved: dict[str, Positions] = {}
        for session in list(sessions):
            moved[session.protocol], session.unsaved = session.unsaved, {}
        if moved:
            await self._save(moved)

    async def save(self, *, touch_all: bool) -> None:
        """Save every live session's new acks; with ``touch_all`` mark every one seen too."""
        moved: dict[str, Positions] = {}
        for session in list(self._live.values()):
            if session.unsaved or touch_all:
                moved[session.protocol], session.unsaved = session.unsaved, {}
        if moved:
            await self._save(moved)
