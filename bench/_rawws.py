"""A raw (SDK-free) WebSocket subscriber: aiohttp + msgspec, speaking §7 by hand.

It connects with ``signalwire.connect``, acks every event, answers pings, decodes each
``conversation.message`` payload into the generated struct with a prebuilt decoder and hands it
to a callback. This is the baseline the SDK's subscriptions are compared with.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import aiohttp
import msgspec
from fabric_chat.models import ConversationChatMessage

__all__ = ["RawSubscriber"]


class _Frame(msgspec.Struct):
    id: str | int | None = None
    method: str | None = None
    params: msgspec.Raw = msgspec.Raw(b"null")
    result: msgspec.Raw = msgspec.Raw(b"null")


class _Event(msgspec.Struct):
    event_type: str = ""
    params: msgspec.Raw = msgspec.Raw(b"null")


class _Ping(msgspec.Struct):
    timestamp: float = 0.0


_decode_frame = msgspec.json.Decoder(_Frame).decode
_decode_event = msgspec.json.Decoder(_Event).decode
_decode_ping = msgspec.json.Decoder(_Ping).decode
_decode_message = msgspec.json.Decoder(ConversationChatMessage).decode
_encode = msgspec.json.encode


def _ack(frame_id: str | int | None) -> str:
    return _encode({"jsonrpc": "2.0", "id": frame_id, "result": {}}).decode()


class RawSubscriber:
    """One raw socket of one subscriber.

    Args:
        session: The aiohttp session to connect through.
        ws_url: The server's WebSocket URL.
        token: The subscriber's SAT; ``None`` for a server that asks for no connect call.
        on_message: Called with every chat message received.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws_url: str,
        token: str | None,
        on_message: Callable[[ConversationChatMessage], object],
    ) -> None:
        self._session = session
        self._ws_url = ws_url
        self._token = token
        self._on_message = on_message
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (and ``signalwire.connect`` when there is a token), then start reading.

        Raises:
            RuntimeError: The server refused the connect.
        """
        ws = await self._session.ws_connect(self._ws_url, autoping=True, max_msg_size=0)
        self._ws = ws
        if self._token is not None:
            connect = {
                "jsonrpc": "2.0",
                "id": str(uuid.uuid4()),
                "method": "signalwire.connect",
                "params": {
                    "version": {"major": 4, "minor": 0, "revision": 0},
                    "event_acks": True,
                    "agent": "bench-raw",
                    "authentication": {"jwt_token": self._token},
                },
            }
            await ws.send_str(_encode(connect).decode())
            answer = _decode_frame(await ws.receive_str())
            if answer.result == msgspec.Raw(b"null"):
                raise RuntimeError("signalwire.connect was refused")
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = _decode_frame(message.data)
            if frame.method == "signalwire.event":
                await ws.send_str(_ack(frame.id))
                event = _decode_event(frame.params)
                if event.event_type == "conversation.message":
                    self._on_message(_decode_message(event.params))
            elif frame.method == "signalwire.ping":
                ping = _decode_ping(frame.params)
                reply = {"jsonrpc": "2.0", "id": frame.id, "result": {"timestamp": ping.timestamp}}
                await ws.send_str(_encode(reply).decode())
            elif frame.method == "signalwire.disconnect":
                await ws.send_str(_ack(frame.id))
                break

    async def aclose(self) -> None:
        """Close the socket and stop reading."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
