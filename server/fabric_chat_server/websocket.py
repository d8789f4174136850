"""The WebSocket at ``/``: JSON-RPC 2.0, one object per text frame (§7).

The first frame must be ``signalwire.connect``; after its result the server sends the
authorization state event, pings every ``ping_interval``, answers pings, takes acks, and swaps
tokens on ``signalwire.reauthenticate``. On shutdown each socket gets ``signalwire.disconnect``,
and so does a socket whose token expires before a ``signalwire.reauthenticate`` extends it (no
event is sent on it after the expiry; its session keeps them for a resume with a fresh token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, TypeVar

import msgspec
from aiohttp import WSMsgType, web
from fabric_chat._protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    JSONRPC_VERSION,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RESUME_REFUSED,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SIGNALWIRE_CONNECT,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_PING,
    SIGNALWIRE_REAUTHENTICATE,
    SUBSCRIBER_OFFLINE,
    SUBSCRIBER_ONLINE,
    TOKEN_ERROR,
    RpcId,
    error_frame,
    event_frame,
    request_frame,
    result_frame,
)
from fabric_chat.models import (
    AuthorizationStateParams,
    ConnectAuthorization,
    ConnectParams,
    ConnectResult,
    EmptyResult,
    FabricSubscriberAuthorization,
    PingParams,
    PingResult,
    PresenceParams,
    ReauthenticateParams,
)

from .auth import TokenClaims, TokenError
from .callers import verify_subscriber_token
from .events import message_event
from .gate import FRAME_DEPTH, GateError, check_fields, check_json_shape, decode_json
from .hub import Channel, LiveSession
from .limits import RateLimiter
from .state import STATE, ServerState
from .store import MessageRecord, Positions, SessionRecord

__all__ = ["close_all_sockets", "websocket_handler"]

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=msgspec.Struct)


def _params(raw: Any, params_type: type[T]) -> T:
    """Convert a frame's params into ``params_type`` and check them against the spec's limits.

    Raises:
        _Refused: -32602 for params of the wrong shape or past a limit.
    """
    try:
        params = msgspec.convert(raw, params_type, strict=False)  # 4.0 is an integer too
        check_fields(params)
    except msgspec.ValidationError as exc:
        raise _Refused(INVALID_PARAMS, f"invalid params: {exc}", close=False) from None
    except GateError as exc:
        raise _Refused(INVALID_PARAMS, f"invalid params: {exc.message}", close=False) from None
    return params


class _Refused(Exception):
    def __init__(self, code: int, message: str, *, close: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close = close


class _Connection:
    """One socket's protocol state."""

    def __init__(
        self, state: ServerState, ws: web.WebSocketResponse, transport: asyncio.Transport | None
    ) -> None:
        self.state = state
        self.ws = ws
        self.transport = transport
        self.session: LiveSession | None = None
        self.channel: Channel | None = None
        self.waiters: dict[str, asyncio.Future[Any]] = {}
        self.deadline_moved = asyncio.Event()

    async def send(self, frame: bytes) -> None:
        if self.channel is not None:
            self.channel.offer(frame)
        elif not self.ws.closed:
            await self.ws.send_frame(frame, WSMsgType.TEXT)

    async def _claims(self, token: str) -> TokenClaims:
        try:
            claims, _ = await verify_subscriber_token(self.state, token)
        except TokenError as exc:
            raise _Refused(TOKEN_ERROR, str(exc), close=True) from None
        return claims

    async def connect(self, request_id: RpcId, raw: Any) -> None:
        """Open or resume the session; answer, send the authorization state, then catch up.

        A resume is honoured when the session is in the store (within the resume window, on
        any instance, after a restart) and at most ``max_replay_events`` behind; the replay
        itself is the session's pump, reading from the store as the socket drains.
        """
        if self.session is not None:
            raise _Refused(INVALID_REQUEST, "already connected", close=False)
        params = _params(raw, ConnectParams)
        claims = await self._claims(params.authentication.jwt_token)
        state, config = self.state, self.state.config
        if await state.connect_limiter.acquire(claims.sub) > 0:
            raise _Refused(LIMIT_EXCEEDED, "too many connects; retry later", close=True)
        hub, store = state.hub, state.store
        if params.protocol:
            record, positions = await self._resumable(params.protocol, claims)
        else:
            if hub.sockets_of(claims.sub) >= config.max_sockets_per_subscriber:
                raise _Refused(LIMIT_EXCEEDED, "too many open sockets", close=True)
            await hub.touch(claims.sub)  # its live sessions are then not the least recent
            now = time.time()
            record = SessionRecord(
                protocol=f"signalwire_{claims.jti}_{uuid.uuid4()}",
                subscriber_id=claims.sub,
                project_id=claims.project_id,
                event_acks=params.event_acks,
                authorization_state=uuid.uuid4().hex,
                created_at=now,
                seen_at=now,
            )
            evicted = await store.create_session(record, keep=config.max_sessions_per_subscriber)
            hub.close(evicted)
            state.relay.sessions_closed(evicted)  # their sockets on other instances close too
            positions = await store.session_positions(record.protocol, claims.sub)
        result = ConnectResult(
            protocol=record.protocol,
            identity=claims.sub,
            ice_servers=[],
            authorization=ConnectAuthorization(
                jti=claims.jti,
                project_id=claims.project_id,
                fabric_subscriber=FabricSubscriberAuthorization(
                    version=1,
                    expires_at=float(claims.exp),
                    subscriber_id=claims.sub,
                    application_id=None,
                    project_id=claims.project_id,
                    space_id=claims.project_id,
                ),
            ),
        )
        transport = self.transport
        channel = Channel(
            self.ws,
            config.send_queue_size,
            abort=None if transport is None else transport.abort,
        )
        channel.offer(result_frame(request_id, result))
        _, state_frame = event_frame(
            SIGNALWIRE_AUTHORIZATION_STATE,
            channel=record.protocol,
            is_author=False,
            payload=AuthorizationStateParams(authorization_state=record.authorization_state),
        )
        channel.offer(state_frame)
        self.channel = channel
        self.session = LiveSession(record, channel, positions, float(claims.exp))
        hub.attach(self.session)

    async def _resumable(
        self, protocol: str, claims: TokenClaims
    ) -> tuple[SessionRecord, Positions]:
        """Return the stored session ``protocol`` and its positions, or refuse the resume."""
        state, store = self.state, self.state.store
        record = await store.get_session(protocol)
        live = state.hub.live(protocol)
        if (
            record is None
            or record.subscriber_id != claims.sub
            or (live is None and record.seen_at < time.time() - state.config.resume_window)
        ):
            raise _Refused(RESUME_REFUSED, "the session cannot be resumed", close=False)
        if live is None and state.hub.sockets_of(claims.sub) >= (
            state.config.max_sockets_per_subscriber
        ):
            raise _Refused(LIMIT_EXCEEDED, "too many open sockets", close=True)
        if live is not None:  # the socket that held it is superseded; keep what it acked
            await state.hub.detach(live)
            live.channel.finish(superseded=True)
        else:  # a socket holding it on another instance closes there
            state.relay.sessions_closed([protocol])
        await state.hub.settled(protocol)  # a closing socket's acks are saved before we read
        backlog = await store.backlog(protocol, claims.sub)
        if backlog > state.config.max_replay_events:
            await store.drop_sessions([protocol])
            raise _Refused(
                RESUME_REFUSED,
                f"{backlog} events missed, more than the {state.config.max_replay_events} a "
                "resume replays; connect fresh and read the history",
                close=False,
            )
        return record, await store.session_positions(protocol, claims.sub)

    async def reauthenticate(self, request_id: RpcId, raw: Any) -> None:
        assert self.session is not None
        params = _params(raw, ReauthenticateParams)
        try:
            claims = await self._claims(params.authentication.jwt_token)
        except _Refused as exc:
            raise _Refused(exc.code, exc.message, close=False) from None
        if claims.sub != self.session.subscriber_id:
            raise _Refused(TOKEN_ERROR, "the token belongs to another subscriber", close=False)
        self.session.resume_sending(float(claims.exp))
        self.deadline_moved.set()  # the expiry watcher recomputes its deadline now
        await self.send(result_frame(request_id, EmptyResult()))

    async def handle_text(self, data: str) -> bool:
        """Handle one text frame; return ``False`` to close the socket."""
        limit = self.state.config.max_frame_bytes
        if len(data) > limit or (4 * len(data) > limit and len(data.encode()) > limit):
            await self.send(error_frame(None, INVALID_REQUEST, "the frame is too large"))
            return True
        try:
            frame = decode_json(data, Any, what="the frame")
            check_json_shape(frame, depth=FRAME_DEPTH, attribute=None)
        except GateError as exc:
            code = PARSE_ERROR if exc.status == 400 else INVALID_REQUEST
            await self.send(error_frame(None, code, exc.message))
            return True
        if not isinstance(frame, dict) or frame.get("jsonrpc") != JSONRPC_VERSION:
            await self.send(error_frame(None, INVALID_REQUEST, "not a JSON-RPC 2.0 object"))
            return self.session is not None
        request_id = frame.get("id")
        if not isinstance(request_id, str | int) or isinstance(request_id, bool):
            request_id = None
        method = frame.get("method")
        if method is None:
            return await self._handle_response(request_id, frame)
        params = frame.get("params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            await self.send(error_frame(request_id, INVALID_REQUEST, "invalid request"))
            return self.session is not None
        try:
            if self.session is None and method != SIGNALWIRE_CONNECT:
                raise _Refused(INVALID_REQUEST, f"{SIGNALWIRE_CONNECT} must come first", close=True)
            if method == SIGNALWIRE_CONNECT:
                await self.connect(request_id, params)
            elif method == SIGNALWIRE_PING:
                ping = _params(params, PingParams)
                await self.send(result_frame(request_id, PingResult(timestamp=ping.timestamp)))
            elif method == SIGNALWIRE_REAUTHENTICATE:
                await self.reauthenticate(request_id, params)
            elif method in (SUBSCRIBER_ONLINE, SUBSCRIBER_OFFLINE):
                _params(params, PresenceParams)  # no calls here: nothing to register
                await self.send(result_frame(request_id, EmptyResult()))
            else:
                raise _Refused(METHOD_NOT_FOUND, f"unknown method {method[:64]!r}", close=False)
        except _Refused as exc:
            await self.send(error_frame(request_id, exc.code, exc.message))
            return not exc.close
        return True

    async def _handle_response(self, request_id: RpcId, frame: dict[str, Any]) -> bool:
        if request_id is None or ("result" not in frame and "error" not in frame):
            await self.send(error_frame(request_id, INVALID_REQUEST, "invalid request"))
            return self.session is not None
        if isinstance(request_id, str):
            waiter = self.waiters.pop(request_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
            if self.session is not None:
                self.session.ack(request_id)
        return True

    async def ping_loop(self) -> None:
        interval = self.state.config.ping_interval
        while not self.ws.closed:
            await asyncio.sleep(interval)
            if self.channel is None:
                continue
            _, frame = request_frame(SIGNALWIRE_PING, PingParams(timestamp=time.time()))
            self.channel.offer(frame)

    async def close_unless_connected(self) -> None:
        """Close the socket when ``signalwire.connect`` has not succeeded in time."""
        await asyncio.sleep(self.state.config.auth_timeout)
        if self.session is None and not self.ws.closed:
            logger.info("closing a socket that did not connect in time")
            if self.transport is not None:
                self.transport.abort()

    async def pump(self) -> None:
        """Catch the session up from the store whenever it falls behind (see the hub)."""
        assert self.session is not None
        store, config = self.state.store, self.state.config
        cache = self.state.relay.cache  # a replay reads the same few conversations again and again

        protocol = self.session.protocol

        async def frames(record: MessageRecord, subscriber_id: str) -> tuple[str, bytes] | None:
            frame = await message_event(cache, record, subscriber_id, protocol)
            if frame is None:  # not a member as far as the cache knows: ask the store itself
                frame = await message_event(store, record, subscriber_id, protocol)
            return frame

        await self.session.pump(
            store, frames, batch=config.replay_batch, stall=config.stall_timeout
        )

    async def watch_expiry(self) -> None:
        """Disconnect the socket once its token has expired (reauthenticate moves the deadline)."""
        session = self.session
        assert session is not None
        while not self.ws.closed:
            left = session.token_expires_at - time.time()
            if left <= 0:
                logger.info("disconnecting a socket whose token has expired")
                await self.disconnect(message=b"token expired", code=1008)
                return
            # Sleep until the deadline, or until a reauthenticate moves it (to the second).
            self.deadline_moved.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self.deadline_moved.wait()

    async def disconnect(self, *, message: bytes = b"server shutdown", code: int = 1001) -> None:
        """Send ``signalwire.disconnect``, wait briefly for the answer, then close."""
        if self.channel is not None and not self.ws.closed:
            request_id, frame = request_frame(SIGNALWIRE_DISCONNECT, {})
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.waiters[request_id] = waiter
            self.channel.offer(frame)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, self.state.config.disconnect_timeout)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message)


_CONNECTIONS: web.AppKey[set[_Connection]] = web.AppKey("fabric_chat_connections")


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """Serve one WebSocket for its whole life."""
    state = request.app[STATE]
    if state.shutting_down:
        raise web.HTTPServiceUnavailable()
    wait = await state.address_connect_limiter.acquire(request.remote or "")
    if wait > 0:
        raise web.HTTPTooManyRequests(headers={"Retry-After": RateLimiter.retry_after(wait)})
    ws = web.WebSocketResponse(
        max_msg_size=max(4 * state.config.max_frame_bytes, 1024 * 1024), timeout=0.5
    )
    await ws.prepare(request)
    connection = _Connection(state, ws, request.transport)
    connections = request.app[_CONNECTIONS]
    connections.add(connection)
    try:
        async with asyncio.TaskGroup() as tasks:
            pinger = tasks.create_task(connection.ping_loop())
            doorman = tasks.create_task(connection.close_unless_connected())
            writer: asyncio.Task[None] | None = None
            watcher: asyncio.Task[None] | None = None
            pump: asyncio.Task[None] | None = None
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    try:
                        keep = await connection.handle_text(message.data)
                    except Exception:
                        state.stats.unexpected += 1
                        logger.exception("unexpected error on a WebSocket frame")
                        await connection.send(error_frame(None, INTERNAL_ERROR, "internal error"))
                        keep = connection.session is not None
                elif message.type == WSMsgType.BINARY:
                    await connection.send(
                        error_frame(None, INVALID_REQUEST, "binary frames are not accepted")
                    )
                    keep = connection.session is not None
                else:
                    break
                session = connection.session
                if writer is None and session is not None:
                    doorman.cancel()
                    writer = tasks.create_task(session.channel.run_writer())
                    watcher = tasks.create_task(connection.watch_expiry())
                    pump = tasks.create_task(connection.pump())
                if not keep:
                    break
            doorman.cancel()
            if connection.channel is not None:
                connection.channel.finish()
            pinger.cancel()
            for task in (watcher, pump):
                if task is not None:
                    task.cancel()
        if not ws.closed:
            await ws.close()
    finally:
        connections.discard(connection)
        if connection.session is not None:
            await state.hub.detach(connection.session)
    return ws


async def close_all_sockets(app: web.Application, *, graceful: bool) -> None:
    """Close every open socket: with ``signalwire.disconnect`` first when ``graceful``."""
    registered: set[_Connection] = app[_CONNECTIONS]
    connections = list(registered)
    if graceful:
        async with asyncio.TaskGroup() as tasks:
            for connection in connections:
                tasks.create_task(connection.disconnect())
    else:
        for connection in connections:
            if connection.channel is not None:
                connection.channel.finish()
            if connection.transport is not None:
                connection.transport.abort()
