"""The client's one socket: JSON-RPC connect, acks, pings both ways, watchdog, reconnect, resume."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

import msgspec

from . import errors
from ._tasks import TaskOwner
from .contract import RpcFrame, Vocabulary
from .retry import HeartbeatPolicy, ReconnectPolicy
from .state import ConnectionState, StateWatch
from .tokens import TokenSource
from .transport import Transport, WebSocket

__all__ = ["EventSink", "SocketSession"]

logger = logging.getLogger("fabric_chat.session")


class EventSink(Protocol):
    """Where the socket hands what it hears."""

    def on_event(self, event_type: str, payload: msgspec.Raw) -> None:
        """Take one event's inner ``params`` (already acked)."""

    def on_reconnected(self) -> None:
        """Learn that a new socket is up without its resume, before any of its events arrive."""

    def on_refused(self, error: errors.AuthenticationError) -> None:
        """Learn that the server refused the token: the socket will never come back."""


class _ResumeRefused(Exception):
    pass


class SocketSession:
    """Opens the socket on first need and keeps it up until :meth:`stop`.

    Reconnects with jittered backoff, resumes with the last ``protocol`` and connects fresh
    when the server refuses the resume. Every state change goes to ``state``. The backoff starts
    over only after a connection stayed up for ``reconnect.cap`` seconds (see
    :class:`~fabric_chat_runtime.retry.ReconnectPolicy`).

    The wire's names and frames come from ``vocabulary`` (the generated ``_protocol`` module's).
    Any other error answer to the connect (an internal error, an invalid request...) is a failed
    connection like a dropped socket: a :class:`~fabric_chat_runtime.errors.ConnectionError`
    for the first connect, a backoff and a reconnect after that.

    When the server refuses the token (a ``token_refused`` code, e.g. it expired) the session
    gives up for good: it logs one warning, moves to ``FAILED``, tells the sink (which ends every
    subscription) and raises that :class:`~fabric_chat_runtime.errors.AuthenticationError` from
    every later :meth:`ensure_connected`.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        vocabulary: Vocabulary,
        ws_url: str,
        tokens: TokenSource,
        agent: str,
        sink: EventSink,
        state: StateWatch,
        reconnect: ReconnectPolicy,
        heartbeat: HeartbeatPolicy,
        connect_timeout: float,
    ) -> None:
        self._transport = transport
        self._words = vocabulary
        self._ws_url = ws_url
        self._tokens = tokens
        self._pending: dict[str, asyncio.Future[RpcFrame]] = {}
        self._agent = agent
        self._sink = sink
        self._state = state
        self._reconnect = reconnect
        self._heartbeat = heartbeat
        self._connect_timeout = connect_timeout
        self._protocol: str | None = None
        self._auth_state: str | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failure: errors.FabricChatError | None = None
        self._changed = asyncio.Event()
        self._last_rx = 0.0
        self._up_since: float | None = None
        self._ws: WebSocket | None = None

    def __repr__(self) -> str:
        return f"SocketSession(ws_url={self._ws_url!r}, state={self._state.state.value!r})"

    @property
    def protocol(self) -> str | None:
        """The session's ``protocol`` from the last connect (used to resume)."""
        return self._protocol

    @property
    def _up(self) -> bool:
        """Whether the socket is connected: the state machine says so (``connected``)."""
        return self._state.state is ConnectionState.CONNECTED

    def raise_if_refused(self) -> None:
        """Raise the server's refusal of the token, if it happened (the state is ``failed``).

        Raises:
            AuthenticationError: The server refused the token; the socket stays down.
        """
        failure = self._failure
        if self._state.state is ConnectionState.FAILED and failure is not None:
            raise failure.with_traceback(None)

    async def ensure_connected(self, owner: TaskOwner) -> None:
        """Start the socket if needed and wait until it is connected.

        Raises:
            AuthenticationError: The server refused the token (now or before).
            ConnectionError: The first connect failed.
            TimeoutError: The socket was not up within twice ``connect_timeout`` plus the longest
                reconnect delay (e.g. during an outage).
        """
        self.raise_if_refused()
        if self._runner is None or self._runner.done():
            self._failure = None
            self._runner = await owner.spawn(self._run(), name="fabric-chat-socket")
        runner = self._runner
        limit = 2 * self._connect_timeout + self._reconnect.cap
        try:
            async with asyncio.timeout(limit):
                while not self._up:
                    if self._failure is not None:
                        raise self._failure
                    if runner.done():
                        # The socket's task ended without a verdict: it raised (a bug).
                        owner.raise_if_failed()
                        if not runner.cancelled() and runner.exception() is not None:
                            raise errors.ConnectionError(
                                "the socket's task failed"
                            ) from runner.exception()
                        raise errors.ConnectionError("the socket's task ended")
                    changed = asyncio.ensure_future(self._changed.wait())
                    try:
                        await asyncio.wait({changed, runner}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        changed.cancel()
        except TimeoutError as exc:
            if isinstance(exc, errors.FabricChatError):
                raise
            raise errors.TimeoutError(f"the socket is not connected after {limit:g}s") from None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _run(self) -> None:
        attempt = 0
        ever_up = False
        try:
            while True:
                self._state.set(
                    ConnectionState.RECONNECTING if ever_up else ConnectionState.CONNECTING
                )
                try:
                    await self._connect_and_serve(ever_up)
                except _ResumeRefused:
                    logger.info("resume refused; connecting fresh")
                    continue
                except errors.AuthenticationError as exc:
                    self._give_up(exc)
                    return
                except errors.FabricChatError as exc:
                    logger.warning("socket failed: %s", type(exc).__name__)
                    if not ever_up and self._up_since is None:
                        self._failure = exc
                        self._state.set(ConnectionState.IDLE)
                        self._notify()
                        return
                if self._up_since is not None:
                    ever_up = True
                    if self._reconnect.clock() - self._up_since >= self._reconnect.cap:
                        attempt = 0
                delay = self._reconnect.delay(attempt)
                attempt += 1
                self._state.set(ConnectionState.RECONNECTING)
                logger.info("reconnecting in %.2fs", delay)
                await self._reconnect.sleep(delay)
        finally:
            self._socket_down()

    def _give_up(self, error: errors.AuthenticationError) -> None:
        logger.warning(
            "the server refused the token (%s); the socket will not reconnect",
            error.code or error.status,
        )
        self._failure = error
        self._sink.on_refused(error)
        self._state.set(ConnectionState.FAILED)
        self._notify()

    async def _connect_and_serve(self, resuming: bool) -> None:
        """Connect, then serve the socket until it drops; ``_up_since`` says if it was up."""
        self._up_since = None
        ws = await self._transport.ws_connect(self._ws_url, timeout=self._connect_timeout)
        self._ws = ws
        try:
            resumed = await self._handshake(ws)
            if resuming and not resumed:  # an honoured resume replays what was missed
                self._sink.on_reconnected()
            self._up_since = self._reconnect.clock()
            self._state.set(ConnectionState.CONNECTED)
            self._notify()
            await self._serve(ws)
        finally:
            self._socket_down()
            self._ws = None
            await ws.close()

    def _socket_down(self) -> None:
        """Leave ``connected`` as soon as the socket is gone (the backoff follows)."""
        if self._state.state is ConnectionState.CONNECTED:
            self._state.set(ConnectionState.RECONNECTING)

    async def _handshake(self, ws: WebSocket) -> bool:
        """Connect (resuming when there is a protocol); return whether the server resumed it."""
        words = self._words
        request_id = str(uuid.uuid4())
        token = await self._tokens.current()
        resume = self._protocol is not None
        params = words.connect_params(token, self._agent, self._protocol, self._auth_state)
        await ws.send(words.request(request_id, words.connect, params))
        try:
            async with asyncio.timeout(self._connect_timeout):
                frame = await self._await_response(ws, request_id)
        except TimeoutError:
            raise errors.TimeoutError(f"no answer to {words.connect}") from None
        if frame.error is not None:
            code = frame.error.code
            if resume and code in words.resume_refused:
                self._protocol = None
                self._auth_state = None
                raise _ResumeRefused
            if code in words.token_refused and self._tokens.refreshable:
                # A provider can renew the token: take a new one and connect again.
                await self._tokens.refresh(stale=token)
                raise errors.ConnectionError("the server refused the token; renewed it")
            if code in words.token_refused:
                raise errors.AuthenticationError(
                    frame.error.message or "connect refused", status=401, code=str(code)
                )
            # Any other error is the server failing this connect, not a verdict on the token.
            reason = frame.error.message or "no message"
            raise errors.ConnectionError(f"{words.connect} failed: {code} ({reason})")
        try:
            protocol = words.connect_protocol(frame.result)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise errors.ProtocolError(f"malformed {words.connect} result") from None
        resumed = resume and protocol == self._protocol
        if not resumed:
            self._auth_state = None
        self._protocol = protocol
        logger.info("socket connected (resumed=%s)", resumed)
        return resumed

    async def _await_response(self, ws: WebSocket, request_id: str) -> RpcFrame:
        while True:
            data = await ws.receive()
            if data is None:
                raise errors.ConnectionError("the socket closed during connect")
            try:
                frame = self._words.decode_frame(data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            if frame.method is None and frame.id == request_id:
                return frame
            if frame.method is not None and frame.method == self._words.ping:
                await self._pong(ws, frame)

    async def _serve(self, ws: WebSocket) -> None:
        self._last_rx = self._heartbeat.clock()
        async with asyncio.TaskGroup() as group:
            watchdog = group.create_task(self._watch(ws), name="fabric-chat-watchdog")
            try:
                await self._read(ws)
            finally:
                watchdog.cancel()

    async def _read(self, ws: WebSocket) -> None:
        while True:
            data = await ws.receive()
            if data is None:
                logger.info("socket closed by the server")
                return
            self._last_rx = self._heartbeat.clock()
            try:
                frame = self._words.decode_frame(data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                logger.warning("ignoring a frame that is not JSON-RPC")
                continue
            try:
                if not await self._handle(ws, frame):
                    return
            except errors.ConnectionError:
                return

    async def _handle(self, ws: WebSocket, frame: RpcFrame) -> bool:
        """Answer one frame; return ``False`` when the socket should be given up."""
        words = self._words
        method = frame.method
        if method is None:
            waiter = self._pending.get(str(frame.id))
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
            return True
        if method == words.ping:
            await self._pong(ws, frame)
        elif method == words.event:
            await ws.send(words.result(frame.id, {}))
            self._dispatch(frame.params)
        elif method == words.disconnect:
            logger.info("server asked to disconnect")
            await ws.send(words.result(frame.id, {}))
            return False
        elif frame.id is not None:
            await ws.send(words.result(frame.id, {}))
        return True

    async def reauthenticate(self, token: str) -> None:
        """Swap the live socket's token (the vocabulary's ``reauthenticate``); never raises.

        With no socket up, or no such method on the wire, there is nothing to do: the next
        connect sends the current token.
        """
        words = self._words
        ws = self._ws
        if ws is None or not self._up or words.reauthenticate is None:
            return
        if words.reauthenticate_params is None:
            return
        request_id = str(uuid.uuid4())
        waiter: asyncio.Future[RpcFrame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        params = words.reauthenticate_params(token)
        try:
            await ws.send(words.request(request_id, words.reauthenticate, params))
            async with asyncio.timeout(self._connect_timeout):
                frame = await waiter
        except (errors.ConnectionError, TimeoutError):
            logger.warning("%s got no answer; the socket will reconnect", words.reauthenticate)
            return
        finally:
            self._pending.pop(request_id, None)
        if frame.error is not None:
            logger.warning("%s refused (%s)", words.reauthenticate, frame.error.code)
        else:
            logger.info("socket reauthenticated with a fresh token")

    async def _pong(self, ws: WebSocket, frame: RpcFrame) -> None:
        pong = self._words.pong
        await ws.send(self._words.result(frame.id, {} if pong is None else pong(frame.params)))

    def _dispatch(self, raw: msgspec.Raw) -> None:
        words = self._words
        try:
            event = words.decode_event(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.warning("ignoring a malformed event")
            return
        if event.event_type == words.authorization_state_event:
            if words.authorization_state is None:
                return
            try:
                self._auth_state = words.authorization_state(event.params)
            except (msgspec.DecodeError, msgspec.ValidationError):
                logger.warning("ignoring a malformed authorization state")
            return
        self._sink.on_event(event.event_type, event.params)

    async def _watch(self, ws: WebSocket) -> None:
        beat = self._heartbeat
        while True:
            silent = beat.clock() - self._last_rx
            if silent < beat.ping_timeout:
                await beat.sleep(beat.ping_timeout - silent)
                continue
            logger.info("socket silent for %.1fs; probing", silent)
            mark = self._last_rx
            words = self._words
            if words.ping is not None and words.ping_params is not None:
                probe = words.request(str(uuid.uuid4()), words.ping, words.ping_params())
                try:
                    await ws.send(probe)
                except errors.ConnectionError:
                    return
            await beat.sleep(beat.probe_timeout)
            if self._last_rx == mark:
                logger.warning("probe unanswered; dropping the socket")
                await ws.close()
                return
