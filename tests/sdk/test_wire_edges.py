"""The socket against odd servers: stray frames, malformed payloads, silent or failed connects."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import fabric_chat
import pytest
from aiohttp import WSMsgType, web
from fabric_chat._protocol import (
    CONVERSATION_MESSAGE,
    CONVERSATION_MESSAGE_UPDATED,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SIGNALWIRE_EVENT,
    SIGNALWIRE_PING,
)
from fabric_chat_runtime import errors
from fabric_chat_runtime.retry import ReconnectPolicy

from .conftest import PEER, Canned, ChatMessage, Client, FakeServer, Inbox, eventually

FAST = ReconnectPolicy(base=0.01, cap=0.05)


def result(hello: dict[str, Any], value: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": value})


def event(event_type: str, params: Any, event_id: str = "e1") -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": event_id,
            "method": SIGNALWIRE_EVENT,
            "params": {"event_type": event_type, "params": params},
        }
    )


async def test_stray_and_malformed_frames_are_survived(server: FakeServer) -> None:
    answers: list[dict[str, Any]] = []
    message = server.add("valid")
    registered = asyncio.Event()

    async def script(ws: web.WebSocketResponse, hello: dict[str, Any]) -> None:
        # Before the connect result: garbage, an unrelated response, and a ping to answer.
        await ws.send_str("not json")
        await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": "other", "result": {}}))
        await ws.send_str(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": "p0",
                    "method": SIGNALWIRE_PING,
                    "params": {"timestamp": 7},
                }
            )
        )
        await ws.send_str(result(hello, {"protocol": "proto-1"}))
        await registered.wait()
        for frame in [
            "[1, 2",
            json.dumps({"jsonrpc": "2.0", "id": "r1", "method": "signalwire.unknown"}),
            json.dumps({"jsonrpc": "2.0", "method": "signalwire.note"}),
            json.dumps({"jsonrpc": "2.0", "id": "p1", "method": SIGNALWIRE_PING, "params": "bad"}),
            json.dumps({"jsonrpc": "2.0", "id": "e0", "method": SIGNALWIRE_EVENT, "params": 5}),
            event(SIGNALWIRE_AUTHORIZATION_STATE, {"authorization_state": 3}),
            event(CONVERSATION_MESSAGE, {"no_id": True}, "e2"),
            event(CONVERSATION_MESSAGE_UPDATED, message, "e3"),
            event(CONVERSATION_MESSAGE, message, "e4"),
        ]:
            await ws.send_bytes(frame.encode()) if frame.startswith("[") else await ws.send_str(
                frame
            )
        async for frame in ws:
            if frame.type is WSMsgType.TEXT:
                answers.append(json.loads(frame.data))

    server.script = script
    got = Inbox()
    async with Client(token=server.token) as client:
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=got.append, address_id=None, chat_only=True
        )
        registered.set()
        await got.wait(1)
        await eventually(lambda: len(answers) >= 8)
    assert [m.text for m in got] == ["valid"]
    by_id = {a["id"]: a for a in answers}
    assert by_id["p1"]["result"] == {"timestamp": None}
    assert by_id["r1"]["result"] == {}
    assert all(by_id[e]["result"] == {} for e in ("e0", "e1", "e2", "e3", "e4"))
    pre_connect = [f for f in server.frames if f.get("id") == "p0"]
    assert pre_connect == []  # answered on the wire, recorded by the script only after
    del pre_connect


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (lambda hello: result(hello, "not an object"), errors.ProtocolError),
        (None, errors.TimeoutError),
        ("close", errors.ConnectionError),
    ],
)
async def test_failed_connects(server: FakeServer, reply: Any, error: type[Exception]) -> None:
    async def script(ws: web.WebSocketResponse, hello: dict[str, Any]) -> None:
        if reply == "close":
            await ws.close()
            return
        if reply is not None:
            await ws.send_str(reply(hello))
        await asyncio.sleep(0.3 if reply is not None else 1.0)

    server.script = script
    limit = 0.1 if reply is None else 5.0
    async with Client(token=server.token, connect_timeout=limit) as client:
        with pytest.raises(error):
            await client.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=PEER, chat_only=True
            )


async def test_resume_with_a_new_protocol_forgets_the_old_state(server: FakeServer) -> None:
    protocols = iter(["proto-a", "proto-b"])
    hellos: list[dict[str, Any]] = []

    async def script(ws: web.WebSocketResponse, hello: dict[str, Any]) -> None:
        hellos.append(hello["params"])
        await ws.send_str(result(hello, {"protocol": next(protocols, "proto-c")}))
        await ws.send_str(event(SIGNALWIRE_AUTHORIZATION_STATE, {"authorization_state": "s"}))
        if len(hellos) < 3:
            await asyncio.sleep(0.05)
            await ws.close()
            return
        async for _ in ws:
            pass

    server.script = script
    async with Client(token=server.token, reconnect=FAST) as client:
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=print, address_id=PEER, chat_only=True
        )
        await eventually(lambda: client.engine.live.socket.protocol == "proto-c")
        assert len(hellos) == 3
    assert hellos[1]["protocol"] == "proto-a"
    assert hellos[1]["authorization_state"] == "s"
    assert hellos[2]["protocol"] == "proto-b"


async def test_drop_reconnects(server: FakeServer) -> None:
    async with Client(token=server.token, reconnect=FAST) as client:
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=print, address_id=PEER, chat_only=True
        )
        await server.drop_sockets()  # the fault comes from the server, as in production
        await eventually(lambda: len(server.connects) == 2 and server.sockets)


async def test_socket_upgrade_refused(server: FakeServer) -> None:
    async with Client(
        token=server.token, ws_url=server.url + "/nowhere", base_url=server.url
    ) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=None, chat_only=True
            )
    assert caught.value.status == 401  # the fake answers 401 to any unauthenticated path


MALFORMED_PAGE = {"data": [{"no_id": True}]}


async def test_a_malformed_first_page_fails_the_subscribe_with_a_protocol_error(
    server: FakeServer,
) -> None:
    async with fabric_chat.AsyncClient(token=server.token) as client:
        server.fail("/api/fabric/conversations/addr-bob/messages", Canned(200, MALFORMED_PAGE))
        with pytest.raises(errors.ProtocolError, match="unexpected page"):
            await client.chat.subscribe(address_id=PEER, on_message=print)
        server.fail("/api/fabric/messages", Canned(200, ["not", "a", "page"]))
        with pytest.raises(errors.ProtocolError, match="unexpected page"):
            async with client.conversation.stream():
                raise AssertionError("the stream opened")  # pragma: no cover
        # Nothing is left running, and the next subscribe works.
        got = Inbox()
        await client.chat.subscribe(address_id=PEER, on_message=got.append)
        await server.publish(server.add("works"))
        await got.wait(1)
    assert [m.text for m in got] == ["works"]


async def test_a_malformed_backfill_page_is_a_protocol_error_and_is_retried(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat")
    server.refuse_resume = True  # the resume is refused, so the SDK backfills
    got = Inbox()
    async with Client(token=server.token, reconnect=FAST) as client:
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=got.append, address_id=PEER, chat_only=True
        )
        missed = server.add("missed while down")
        server.fail("/api/fabric/conversations/addr-bob/messages", Canned(200, MALFORMED_PAGE))
        await server.drop_sockets()
        await got.wait(1)
    assert [m.text for m in got] == [missed["text"]]
    failures = [r.getMessage() for r in caplog.records if "backfill failed" in r.getMessage()]
    assert failures == ["backfill failed (ProtocolError); attempt 1"]
