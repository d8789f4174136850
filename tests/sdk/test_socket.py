"""The socket: connect first, acks, pings, disconnect, resume, refused resume, watchdog, states."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import web
from fabric_chat._protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    RESUME_REFUSED,
    SIGNALWIRE_CONNECT,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_PING,
    VOCABULARY,
)
from fabric_chat_runtime import errors
from fabric_chat_runtime.retry import HeartbeatPolicy, ReconnectPolicy
from fabric_chat_runtime.state import ConnectionState

from .conftest import PEER, ChatMessage, Client, FakeServer, eventually, make_token

FAST = ReconnectPolicy(base=0.01, cap=0.05)


async def subscribe(client: Client, into: list[ChatMessage]) -> object:
    return await client.engine.subscribe_conversation(
        item_type=ChatMessage, on_message=into.append, address_id=PEER, chat_only=True
    )


async def test_connect_is_the_first_frame_and_events_are_acked(server: FakeServer) -> None:
    got: list[ChatMessage] = []
    async with Client(token=server.token) as client:
        assert client.state is ConnectionState.IDLE
        await subscribe(client, got)
        assert client.state is ConnectionState.CONNECTED
        first = server.frames[0]
        assert first["method"] == SIGNALWIRE_CONNECT
        params = first["params"]
        assert params["version"] == {"major": 4, "minor": 0, "revision": 0}
        assert params["event_acks"] is True
        assert params["agent"] == "fabric-chat-python/0.1.0"
        assert params["authentication"] == {"jwt_token": server.token}
        assert "protocol" not in params
        await server.publish(server.add("hello"))
        await eventually(lambda: len(got) == 1 and len(server.acks) == 2)
        assert got[0].text == "hello"
        assert got[0].conversation_id == PEER
        # Every event was acked with an empty result, the authorization state event included.
        acks = [f for f in server.frames if "result" in f]
        assert all(f["result"] == {} for f in acks)


async def test_pings_are_answered_with_the_same_timestamp(server: FakeServer) -> None:
    server.ping_every = 0.02
    async with Client(token=server.token) as client:
        await subscribe(client, [])
        await eventually(lambda: any(f.get("id") == "ping-2" for f in server.frames))
    pong = next(f for f in server.frames if f.get("id") == "ping-1")
    assert pong == {"jsonrpc": "2.0", "id": "ping-1", "result": {"timestamp": 1235.5}}


async def test_disconnect_is_answered_then_resumed(server: FakeServer) -> None:
    got: list[ChatMessage] = []
    async with Client(token=server.token, reconnect=FAST) as client:
        await subscribe(client, got)
        ws = server.sockets[0]
        await ws.send_json(
            {"jsonrpc": "2.0", "id": "bye", "method": SIGNALWIRE_DISCONNECT, "params": {}}
        )
        await eventually(lambda: len(server.connects) == 2 and server.sockets)
        assert {"jsonrpc": "2.0", "id": "bye", "result": {}} in server.frames
        resumed = server.connects[1]
        assert resumed["protocol"].startswith("signalwire_jti_")
        assert resumed["authorization_state"] == "st-1"
        await eventually(lambda: client.state is ConnectionState.CONNECTED)
        await server.publish(server.add("after"))
        await eventually(lambda: [m.text for m in got] == ["after"])


async def test_refused_resume_connects_fresh(server: FakeServer) -> None:
    server.refuse_resume = True
    async with Client(token=server.token, reconnect=FAST) as client:
        await subscribe(client, [])
        await server.drop_sockets()
        await eventually(lambda: len(server.connects) == 3 and server.sockets)
    assert "protocol" not in server.connects[0]
    assert "protocol" in server.connects[1]
    assert "protocol" not in server.connects[2]
    assert "authorization_state" not in server.connects[2]


async def test_bad_token_fails_the_subscribe(server: FakeServer) -> None:
    token = make_token(server.url.replace("http", "ws"), sig="forged")
    async with Client(token=token, base_url=server.url) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=None, chat_only=True
            )
        assert client.state is ConnectionState.FAILED
        # The refusal is final: a later subscribe raises it without a second connect.
        with pytest.raises(errors.AuthenticationError):
            await client.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=None, chat_only=True
            )
        assert len(server.connects) == 1
    assert caught.value.code == "-32002"
    assert token not in str(caught.value)
    assert token not in repr(caught.value)


async def test_unreachable_socket_fails_the_subscribe(server: FakeServer) -> None:
    async with Client(token=server.token, ws_url="ws://127.0.0.1:9", base_url=server.url) as c:
        with pytest.raises(errors.ConnectionError):
            await c.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=None, chat_only=False
            )


async def test_watchdog_probes_a_silent_socket_and_reconnects(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    heartbeat = HeartbeatPolicy(ping_timeout=0.15, probe_timeout=0.3)
    async with Client(token=server.token, heartbeat=heartbeat, reconnect=FAST) as client:
        await subscribe(client, [])
        # A server that answers the probe keeps the socket.
        await eventually(lambda: any(f.get("method") == SIGNALWIRE_PING for f in server.frames))
        await asyncio.sleep(0.35)
        assert len(server.connects) == 1
        # A silent one loses it.
        server.mute = True
        await eventually(lambda: len(server.connects) >= 2)
    messages = [r.getMessage() for r in caplog.records]
    assert any("probing" in m for m in messages)
    assert any("probe unanswered" in m for m in messages)


async def test_watchdog_delays_with_an_injected_clock() -> None:
    """The watchdog waits exactly the remaining silence, then the probe time (a table)."""
    from fabric_chat_runtime.session import SocketSession

    now = [100.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    class Socket:
        def __init__(self) -> None:
            self.closed_by_watchdog = False
            self.sent: list[bytes] = []

        async def send(self, text: bytes) -> None:
            self.sent.append(text)

        async def close(self) -> None:
            self.closed_by_watchdog = True

    beat = HeartbeatPolicy(ping_timeout=15.0, probe_timeout=5.0, clock=lambda: now[0], sleep=sleep)
    session = SocketSession.__new__(SocketSession)
    session._heartbeat = beat
    session._last_rx = 96.0
    session._words = VOCABULARY
    ws = Socket()
    await session._watch(ws)  # type: ignore[arg-type]
    assert slept == [11.0, 5.0]
    assert ws.closed_by_watchdog
    assert f'"method":"{SIGNALWIRE_PING}"'.encode() in ws.sent[0]


async def test_state_changes_are_observable(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    seen: list[ConnectionState] = []
    client = Client(token=server.token, reconnect=FAST)
    stop = client.on_state_change(seen.append)
    iterated: list[ConnectionState] = []

    async def follow() -> None:
        async for state in client.states():
            iterated.append(state)

    async with asyncio.TaskGroup() as group:
        group.create_task(follow())
        async with client:
            await subscribe(client, [])
            await server.drop_sockets()
            await eventually(lambda: seen[-1:] == [ConnectionState.CONNECTED] and len(seen) > 2)
    stop()
    stop()
    expected = ["connecting", "connected", "reconnecting", "connected", "closed"]
    assert [s.value for s in seen] == expected
    assert [s.value for s in iterated] == ["idle", *expected]
    assert "state='closed'" in repr(client)
    logged = [r.getMessage() for r in caplog.records if r.name == "fabric_chat.state"]
    assert logged == [
        "connection state: idle -> connecting",
        "connection state: connecting -> connected",
        "connection state: connected -> reconnecting",
        "connection state: reconnecting -> connected",
        "connection state: connected -> closed",
    ]


async def _until_served(ws: web.WebSocketResponse, name: str) -> None:
    """Ping the client and wait for its answer: it is connected and serving the socket."""
    await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": name, "method": SIGNALWIRE_PING}))
    async for frame in ws:
        if json.loads(frame.data).get("id") == name:
            return


def _accept(hello: dict[str, object]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": {"protocol": "p"}})


async def test_reconnect_backoff_is_jittered_exponential_and_resets(server: FakeServer) -> None:
    """A table of reconnect delays, with injected sleep, random and clock: it grows, caps, and
    resets after a connection that lasted ``cap`` seconds."""
    attempts: list[int] = []
    slept: list[float] = []
    now = [1000.0]

    async def sleep(delay: float) -> None:
        slept.append(delay)

    async def script(ws: web.WebSocketResponse, hello: dict[str, object]) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) in (2, 3, 4):
            await ws.close()  # refused mid-connect: a failed reconnect
            return
        await ws.send_str(_accept(hello))
        if len(attempts) in (1, 5):
            await _until_served(ws, f"up-{len(attempts)}")
            if len(attempts) == 5:
                now[0] += 0.5  # this connection outlasted the cap: the backoff starts over
            await ws.close()  # up, then dropped
            return
        async for _ in ws:
            pass

    server.script = script
    reconnect = ReconnectPolicy(
        base=0.1, cap=0.3, jitter=0.5, random=lambda: 0.5, sleep=sleep, clock=lambda: now[0]
    )
    async with Client(token=server.token, reconnect=reconnect) as client:
        await subscribe(client, [])
        await eventually(lambda: len(attempts) == 6 and client.state is ConnectionState.CONNECTED)
    # Each delay is min(cap, base * 2**n) less half of it (jitter 0.5 x random 0.5 = 25 %).
    assert slept == pytest.approx([0.075, 0.15, 0.225, 0.225, 0.075])


async def test_a_server_that_drops_at_once_meets_a_growing_backoff(server: FakeServer) -> None:
    """Connections that drop right after the connect result never reset the backoff: the delays
    grow to the cap instead of a reconnect every ``base`` seconds; one that lasts resets it."""
    attempts: list[int] = []
    slept: list[float] = []
    now = [50.0]
    release = asyncio.Event()

    async def sleep(delay: float) -> None:
        slept.append(delay)

    async def script(ws: web.WebSocketResponse, hello: dict[str, object]) -> None:
        attempts.append(len(attempts) + 1)
        await ws.send_str(_accept(hello))
        if len(attempts) == 1:
            await release.wait()  # up until the test has subscribed
        elif len(attempts) == 9:
            await _until_served(ws, "lasting")
            now[0] += 3.0  # up for the cap, by the injected clock
        elif len(attempts) == 10:
            async for _ in ws:
                pass
        # Anything else: accepted, then dropped at once.

    server.script = script
    reconnect = ReconnectPolicy(random=lambda: 0.0, sleep=sleep, clock=lambda: now[0])
    async with Client(token=server.token, reconnect=reconnect) as client:
        await subscribe(client, [])
        release.set()
        await eventually(lambda: len(attempts) == 10 and client.state is ConnectionState.CONNECTED)
    assert slept == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0, 0.1])


def _connect_error(hello: dict[str, object], code: int) -> str:
    error = {"code": code, "message": "internal error"}
    return json.dumps({"jsonrpc": "2.0", "id": hello["id"], "error": error})


@pytest.mark.parametrize("code", [INTERNAL_ERROR, INVALID_REQUEST])
async def test_a_connect_error_that_is_not_a_refused_token_is_a_failed_connection(
    server: FakeServer, code: int
) -> None:
    """Only ``TOKEN_ERROR`` refuses the token. Any other error answer to a fresh connect is a failed
    connection: back off, reconnect, and the live subscription delivers again; no 401."""
    got: list[ChatMessage] = []
    slept: list[float] = []
    fresh: list[bool] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    async def script(ws: web.WebSocketResponse, hello: dict[str, object]) -> None:
        params = hello["params"]
        assert isinstance(params, dict)
        fresh.append("protocol" not in params)
        if len(fresh) == 2:  # the reconnect's resume: refused, so the client connects fresh
            await ws.send_str(_connect_error(hello, RESUME_REFUSED))
            return
        if len(fresh) == 3:  # the fresh connect fails once, as a server in trouble would
            await ws.send_str(_connect_error(hello, code))
            return
        await ws.send_str(_accept(hello))
        server.sockets.append(ws)
        try:
            async for _ in ws:
                pass
        finally:
            server.sockets.remove(ws)

    server.script = script
    states: list[ConnectionState] = []
    reconnect = ReconnectPolicy(random=lambda: 0.0, sleep=sleep)
    async with Client(token=server.token, reconnect=reconnect) as client:
        client.on_state_change(states.append)
        await subscribe(client, got)
        await server.drop_sockets()
        await eventually(lambda: len(fresh) == 4 and client.state is ConnectionState.CONNECTED)
        await server.publish(server.add("after"))
        await eventually(lambda: [m.text for m in got] == ["after"])
        # A later feed opens on the same socket.
        await subscribe(client, [])
    assert fresh == [True, False, True, True]
    assert slept == pytest.approx([0.1, 0.2])  # the drop, then the failed connect
    assert ConnectionState.FAILED not in states


async def test_a_first_connect_that_fails_with_an_internal_error_can_be_retried(
    server: FakeServer,
) -> None:
    answers = iter([INTERNAL_ERROR])

    async def script(ws: web.WebSocketResponse, hello: dict[str, object]) -> None:
        code = next(answers, None)
        if code is not None:
            await ws.send_str(_connect_error(hello, code))
            return
        await ws.send_str(_accept(hello))
        async for _ in ws:
            pass

    server.script = script
    async with Client(token=server.token) as client:
        with pytest.raises(errors.ConnectionError, match="-32603") as caught:
            await subscribe(client, [])
        assert not isinstance(caught.value, errors.AuthenticationError)
        assert client.state is ConnectionState.IDLE
        await subscribe(client, [])
        assert client.state is ConnectionState.CONNECTED
