"""Sessions, sockets and the fan-out of events to every socket of every member.

A :class:`Session` is what a ``protocol`` names: one subscriber's event stream with its un-acked
events. A :class:`Channel` is one open WebSocket attached to a session; it sends through a bounded
queue drained by its own writer task, so one slow socket never blocks the others (a socket whose
queue fills up is closed; its session keeps the un-acked events for a resume).

Sessions live in memory only: a server restart forgets them, so a resume after a restart is
refused (``-32003``) and the client connects fresh. Nothing is lost by that: every message is in
the store, and a client backfills what it missed from the history routes (the SDK does so for its
subscriptions after a reconnect), deduplicating by message id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable

from aiohttp import WSMsgType, web

__all__ = ["Channel", "Hub", "Session"]

logger = logging.getLogger(__name__)


class Channel:
    """One open WebSocket and its send queue.

    Args:
        ws: The prepared WebSocket.
        queue_size: Frames buffered before the socket counts as too slow.
        abort: Cuts the connection at once (called when the queue overflows, so a writer stuck
            on a peer that stopped reading is released).
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
        """Queue a frame without waiting; a full queue marks the socket for closing."""
        if self.closed or self.overflowed:
            return False
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            logger.warning("closing a socket whose send queue is full")
            if self._abort is not None:
                self._abort()
            return False
        return True

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


class Session:
    """One subscriber's event stream, named by its ``protocol``.

    Attributes:
        protocol: ``signalwire_<jti>_<uuid>``.
        subscriber_id: Whose events it carries.
        project_id: The subscriber's project.
        event_acks: Whether the client acks events (only then are they kept for resume).
        token_expires_at: When the socket's token expires.
        authorization_state: The opaque state sent after connect.
    """

    def __init__(
        self,
        *,
        protocol: str,
        subscriber_id: str,
        project_id: str,
        event_acks: bool,
        token_expires_at: float,
        max_unacked: int,
    ) -> None:
        self.protocol = protocol
        self.subscriber_id = subscriber_id
        self.project_id = project_id
        self.event_acks = event_acks
        self.token_expires_at = token_expires_at
        self.authorization_state = uuid.uuid4().hex
        self.channel: Channel | None = None
        self.detached_at: float | None = None
        self.broken = False
        self._max_unacked = max_unacked
        self.unacked: OrderedDict[str, bytes] = OrderedDict()

    def deliver(self, event_id: str, frame: bytes) -> None:
        """Keep the event until acked; send it when a socket is attached and the token is valid.

        An event that reaches a session whose token has expired is kept (with ``event_acks``)
        for a resume with a fresh token, but never sent on the expired socket.
        """
        if self.event_acks:
            self.unacked[event_id] = frame
            if len(self.unacked) > self._max_unacked:
                self.unacked.popitem(last=False)
                self.broken = True
        if self.channel is not None and time.time() < self.token_expires_at:
            self.channel.offer(frame)

    def ack(self, event_id: str) -> None:
        """Forget an acked event."""
        self.unacked.pop(event_id, None)


class Hub:
    """Every live session and socket of the server.

    Args:
        resume_window: Seconds a detached session stays resumable.
        max_unacked: Un-acked events kept per session.
        clock: Wall clock, injectable for tests.
    """

    def __init__(
        self,
        *,
        resume_window: float,
        max_unacked: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resume_window = resume_window
        self.max_unacked = max_unacked
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._by_subscriber: dict[str, set[Session]] = {}
        self.pings_paused = False

    def create(
        self, *, jti: str, subscriber_id: str, project_id: str, event_acks: bool, expires_at: float
    ) -> Session:
        """Start a new session for a subscriber."""
        protocol = f"signalwire_{jti}_{uuid.uuid4()}"
        session = Session(
            protocol=protocol,
            subscriber_id=subscriber_id,
            project_id=project_id,
            event_acks=event_acks,
            token_expires_at=expires_at,
            max_unacked=self.max_unacked,
        )
        self._sessions[protocol] = session
        self._by_subscriber.setdefault(subscriber_id, set()).add(session)
        return session

    def resumable(self, protocol: str, subscriber_id: str) -> Session | None:
        """Return the session ``protocol`` when the subscriber may resume it, else ``None``."""
        self.expire()
        session = self._sessions.get(protocol)
        if session is None or session.subscriber_id != subscriber_id or session.broken:
            return None
        return session

    def attach(self, session: Session, channel: Channel) -> None:
        """Attach a socket to a session, replacing any earlier one, and resend un-acked events."""
        previous = session.channel
        if previous is not None and previous is not channel:
            previous.finish(superseded=True)
        session.channel = channel
        session.detached_at = None
        for frame in session.unacked.values():
            channel.offer(frame)

    def detach(self, session: Session, channel: Channel) -> None:
        """Detach a closed socket; the session stays resumable for the window."""
        if session.channel is channel:
            session.channel = None
            session.detached_at = self._clock()
            if not session.event_acks:
                self._drop(session)

    def _drop(self, session: Session) -> None:
        self._sessions.pop(session.protocol, None)
        sessions = self._by_subscriber.get(session.subscriber_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._by_subscriber[session.subscriber_id]

    def expire(self) -> None:
        """Forget detached sessions older than the resume window."""
        deadline = self._clock() - self.resume_window
        for session in [s for s in self._sessions.values() if s.detached_at is not None]:
            if session.detached_at is not None and session.detached_at < deadline:
                self._drop(session)

    def sessions_of(self, subscriber_id: str) -> Iterable[Session]:
        """Return the subscriber's sessions, attached or resumable."""
        return tuple(self._by_subscriber.get(subscriber_id, ()))
