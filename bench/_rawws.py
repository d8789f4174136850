"""A raw (SDK-free) WebSocket subscriber: aiohttp + msgspec, speaking §7 by hand.

It connects with ``signalwire.connect``, acks every event, answers pings, decodes each
``conversation.message`` payload into the generated struct with a prebuilt decoder and hands it
to a callback. This is the baseline the SDK's subscriptions are compared with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
import msgspec
from fabric_chat._protocol import (
    CONVERSATION_MESSAGE,
    SIGNALWIRE_CONNECT,
    SIGNALWIRE_DISCONNECT,
    SIGNALWIRE_EVENT,
    SIGNALWIRE_PING,
    decode_event,
    decode_frame,
    request_frame,
    result_frame,
)
from fabric_chat.models import ConversationChatMessage

__all__ = ["RawSubscriber"]


class _Ping(msgspec.Struct):
    timestamp: float = 0.0


_decode_ping = msgspec.json.Decoder(_Ping).decode
_decode_message = msgspec.json.Decoder(ConversationChatMessage).decode


def _ack(frame_id: str | int | None) -> str:
    return result_frame(frame_id, {}).decode()


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
            params = {
                "version": {"major": 4, "minor": 0, "revision": 0},
                "event_acks": True,
                "agent": "bench-raw",
                "authentication": {"jwt_token": self._token},
            }
            _, connect = request_frame(SIGNALWIRE_CONNECT, params)
            await ws.send_str(connect.decode())
            answer = decode_frame(await ws.receive_str())
            if answer.result == msgspec.Raw(b"null"):
                raise RuntimeError(f"{SIGNALWIRE_CONNECT} was refused")
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = decode_frame(message.data)
            if frame.method == SIGNALWIRE_EVENT:
                await ws.send_str(_ack(frame.id))
                event = decode_event(frame.params)
                if event.event_type == CONVERSATION_MESSAGE:
                    self._on_message(_decode_message(event.params))
            elif frame.method == SIGNALWIRE_PING:
                ping = _decode_ping(frame.params)
                await ws.send_str(result_frame(frame.id, {"timestamp": ping.timestamp}).decode())
            elif frame.method == SIGNALWIRE_DISCONNECT:
                await ws.send_str(_ack(frame.id))
                break

    async def aclose(self) -> None:
        """Close the socket and stop reading."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
