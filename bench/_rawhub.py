"""The fan-out baseline server: plain aiohttp pushing one event frame to every socket.

``python -m bench._rawhub`` binds 127.0.0.1 on a free port and prints ``listening on URL``.
WebSockets connect at ``/`` (no handshake; whatever they send, acks included, is read and
dropped). ``POST /push`` with ``{"text": ...}`` builds one ``signalwire.event`` frame of the same
shape as the chat server's ``conversation.message`` event and sends it to every socket.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import Any

import msgspec
from aiohttp import WSMsgType, web
from fabric_chat import _protocol

__all__ = ["create_app", "event_frame", "main"]

_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets", set)
_IDS = {name: str(uuid.uuid4()) for name in ("group", "sender", "room", "user")}


class _Push(msgspec.Struct):
    text: str


class _Send(msgspec.Struct):
    group_id: str
    text: str
    from_fabric_address_id: str | None = None
    metadata: dict[str, Any] | None = None
    details: dict[str, Any] | None = None


_decode_push = msgspec.json.Decoder(_Push).decode
_decode_send = msgspec.json.Decoder(_Send).decode
_encoder = msgspec.json.Encoder()


def event_frame(text: str) -> str:
    """Return a ``conversation.message`` event frame like the chat server's, for ``text``."""
    payload: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "group_id": _IDS["group"],
        "conversation_id": _IDS["room"],
        "from_fabric_address_id": _IDS["sender"],
        "from_address_id": _IDS["sender"],
        "user_id": _IDS["user"],
        "user_name": "Sender",
        "ts": time.time(),
        "type": "message",
        "subtype": "chat",
        "kind": None,
        "text": text,
        "metadata": {},
        "details": {},
        "hidden": False,
        "conversation_name": "Fan-out",
    }
    _, frame = _protocol.event_frame(
        _protocol.CONVERSATION_MESSAGE,
        channel="signalwire_conversation_" + _IDS["user"],
        is_author=False,
        payload=payload,
    )
    return frame.decode()


async def _send(request: web.Request) -> web.Response:
    """The bare send handler: decode the body, answer 201 with the message (same bytes out)."""
    body = _decode_send(await request.read())
    message = {
        "id": str(uuid.uuid4()),
        "group_id": body.group_id,
        "conversation_id": _IDS["room"],
        "from_fabric_address_id": body.from_fabric_address_id,
        "from_address_id": body.from_fabric_address_id,
        "user_id": _IDS["user"],
        "user_name": "Sender",
        "ts": time.time(),
        "type": "message",
        "subtype": "chat",
        "kind": None,
        "text": body.text,
        "metadata": body.metadata or {},
        "details": body.details or {},
        "hidden": False,
        "conversation_name": "Sender",
    }
    return web.Response(body=_encoder.encode(message), status=201, content_type="application/json")


async def _socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    sockets = request.app[_SOCKETS]
    sockets.add(ws)
    try:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
    finally:
        sockets.discard(ws)
    return ws


async def _push(request: web.Request) -> web.Response:
    push = _decode_push(await request.read())
    frame = event_frame(push.text)
    sent = 0
    sockets: set[web.WebSocketResponse] = request.app[_SOCKETS]
    for ws in list(sockets):
        if not ws.closed:
            await ws.send_str(frame)
            sent += 1
    return web.json_response({"sent": sent})


def create_app() -> web.Application:
    """Return the baseline application."""
    app = web.Application()
    app[_SOCKETS] = set()
    app.router.add_get("/", _socket)
    app.router.add_post("/push", _push)
    app.router.add_post("/api/fabric/messages", _send)
    return app


async def _serve() -> None:
    runner = web.AppRunner(create_app(), handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
