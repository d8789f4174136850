"""Fixtures for the SDK runtime tests: a small in-process chat server with fault switches.

The fake server speaks the wire of PROTOCOL.md closely enough for the runtime (group dialect,
page envelopes and links, errors, the JSON-RPC socket) and lets a test inject failures:
canned HTTP answers, slow answers, dropped sockets, refused resumes, silence.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from aiohttp import WSMsgType, web
from fabric_chat._protocol import (
    CONVERSATION_MESSAGE,
    RESUME_REFUSED,
    SIGNALWIRE_AUTHORIZATION_STATE,
    SIGNALWIRE_CONNECT,
    SIGNALWIRE_EVENT,
    SIGNALWIRE_PING,
    TOKEN_ERROR,
    VOCABULARY,
)
from fabric_chat.lib.chat import ChatEngine
from fabric_chat_runtime.client import BaseClient
from fabric_chat_runtime.contract import Contract, Param, Route
from fabric_chat_server.testing import LocalServer

ME = "addr-alice"
PEER = "addr-bob"
SECRET_SIG = "c2lnbmF0dXJlLXNlY3JldA"


def make_token(ch: str, *, sig: str = SECRET_SIG) -> str:
    """Return a JWT-shaped SAT whose header carries ``ch``."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': 'SAT', 'alg': 'HS256', 'ch': ch})}.{part({'sub': 'sub-alice'})}.{sig}"


def _route(op: str, method: str, path: str, *params: Param, status: int = 200) -> Route:
    return Route(op, method, path, "bearer", op, params=params, status=status)


CONTRACT = Contract(
    routes=(
        _route("getSubscriberInfo", "GET", "/api/fabric/subscriber/info"),
        _route("joinConversation", "POST", "/api/fabric/conversations/join"),
        _route("listConversations", "GET", "/api/fabric/conversations"),
        _route(
            "listConversationMessages",
            "GET",
            "/api/fabric/conversations/{key}/messages",
            Param("key", "path", str, required=True),
        ),
        _route("listMessages", "GET", "/api/fabric/messages"),
        _route("sendMessage", "POST", "/api/fabric/messages", status=201),
    ),
    vocabulary=VOCABULARY,
)


class ChatMessage(msgspec.Struct, kw_only=True):
    """The test's stand-in for the generated ConversationChatMessage."""

    id: str
    conversation_id: str | None = None
    group_id: str | None = None
    user_id: str | None = None
    ts: float = 0.0
    type: str = "message"
    subtype: str = "chat"
    text: str | None = None
    details: dict[str, Any] = {}
    metadata: dict[str, Any] = {}


class Message(ChatMessage, kw_only=True):
    """The test's stand-in for the generated ConversationMessage."""

    conversation_name: str | None = None


class Conversation(msgspec.Struct, kw_only=True):
    """The test's stand-in for the generated Conversation."""

    id: str
    group_id: str | None = None
    address_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] = {}
    created_at: float = 0.0
    last_message_at: float | None = None
    from_fabric_address_id: str | None = None
    last_message: Message | None = None


class Joined(msgspec.Struct):
    """The test's stand-in for JoinConversationResponse."""

    group_id: str
    fabric_address_ids: list[str] = []
    from_fabric_address_id: str | None = None


class Client(BaseClient):
    """A client over the test contract, exposing its (chat) engine."""

    _engine_class = ChatEngine

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(contract=CONTRACT, **kwargs)

    @property
    def engine(self) -> ChatEngine:
        return self._engine


@dataclass
class Canned:
    """One canned HTTP answer for a path prefix."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeServer:
    """An in-process chat server for one subscriber (``ME``), with fault switches."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.canned: dict[str, list[Canned]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.frames: list[dict[str, Any]] = []
        self.acks: list[str] = []
        self.idempotent: dict[str, dict[str, Any]] = {}
        self.refuse_resume = False
        self.mute = False
        self.ping_every: float | None = None
        self.connects: list[dict[str, Any]] = []
        self.token = ""
        self.clock = 1_700_000_000.0
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.joins = 0
        self.lose_sends = 0
        self.script: Any = None
        self.send_keys: list[str] = []

    # Helpers for tests.

    def add(self, text: str, *, subtype: str = "chat", group: str = "group-bob") -> dict[str, Any]:
        """Store a message (no event) and return it."""
        self.clock += 1.0
        message = {
            "id": str(uuid.uuid4()),
            "group_id": group,
            "conversation_id": "as-seen-by-server",
            "from_fabric_address_id": PEER,
            "user_id": "sub-bob",
            "ts": self.clock,
            "type": "message",
            "subtype": subtype,
            "kind": None,
            "text": text,
            "metadata": {},
            "details": {},
            "conversation_name": "Bob",
        }
        self.messages.append(message)
        return message

    async def publish(self, message: dict[str, Any]) -> None:
        """Send a ``conversation.message`` event to every socket."""
        for ws in list(self.sockets):
            if not ws.closed:
                await self.event(ws, CONVERSATION_MESSAGE, message)

    async def event(self, ws: web.WebSocketResponse, event_type: str, params: Any) -> None:
        frame = {
            "jsonrpc": "2.0",
            "id": str(uuid.uuid4()),
            "method": SIGNALWIRE_EVENT,
            "params": {"event_type": event_type, "timestamp": self.clock, "params": params},
        }
        await ws.send_str(json.dumps(frame))

    async def drop_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    def fail(self, prefix: str, *answers: Canned) -> None:
        self.canned.setdefault(prefix, []).extend(answers)

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.startswith(prefix))

    # HTTP.

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/":
            return await handler(request)  # type: ignore[no-any-return]
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        for prefix, answers in self.canned.items():
            if request.path.startswith(prefix) and answers:
                canned = answers.pop(0)
                if canned.delay:
                    await asyncio.sleep(canned.delay)
                if canned.status == 0:
                    assert request.transport is not None
                    request.transport.close()
                    raise ConnectionResetError
                return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            body = {"errors": [{"type": "auth", "code": "invalid_token", "message": "bad token"}]}
            return web.json_response(body, status=401)
        return await handler(request)  # type: ignore[no-any-return]

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response({"id": "sub-alice", "fabric_addresses": [{"id": ME}]})

    async def join(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.joins += 1
        await asyncio.sleep(0.01)
        peer = body["fabric_address_ids"][0]
        group = "group-" + peer.removeprefix("addr-")
        return web.json_response(
            {"group_id": group, "fabric_address_ids": [peer, ME], "from_fabric_address_id": ME}
        )

    def _page(self, request: web.Request, items: list[Any]) -> web.Response:
        size = int(request.query.get("page_size", "10"))
        if not 1 <= size <= 1000:
            body = {
                "errors": [
                    {
                        "type": "v",
                        "code": "out_of_range",
                        "message": "page_size",
                        "attribute": "page_size",
                    }
                ]
            }
            return web.json_response(body, status=422)
        offset = int(request.query.get("page_token", "0"))
        base = str(request.url.with_query(None))
        links = {"self": str(request.url), "first": f"{base}?page_size={size}"}
        if offset + size < len(items):
            links["next"] = f"{base}?page_size={size}&page_token={offset + size}"
        if offset > 0:
            links["prev"] = f"{base}?page_size={size}&page_token={max(0, offset - size)}"
        return web.json_response({"data": items[offset : offset + size], "links": links})

    async def history(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key.startswith("addr-"):  # an address id: the server resolves its group
            key = "group-" + key.removeprefix("addr-")
        items = [m for m in reversed(self.messages) if m["group_id"] == key]
        return self._page(request, items)

    async def all_messages(self, request: web.Request) -> web.Response:
        return self._page(request, list(reversed(self.messages)))

    async def conversations(self, request: web.Request) -> web.Response:
        return self._page(request, [{"id": "group-bob", "group_id": "group-bob", "name": "Bob"}])

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key", "")
        self.send_keys.append(key)
        if key and key in self.idempotent:
            return web.json_response(self.idempotent[key], status=201)
        message = self.add(body["text"], group=body["group_id"])
        message.update(
            from_fabric_address_id=ME,
            user_id="sub-alice",
            metadata=body.get("metadata", {}),
            details=body.get("details", {}),
        )
        if key:
            self.idempotent[key] = message
        await self.publish(message)
        if self.lose_sends > 0:
            self.lose_sends -= 1
            return web.json_response({"errors": [{"message": "answer lost"}]}, status=503)
        return web.json_response(message, status=201)

    # WebSocket.

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        pinger: asyncio.Task[None] | None = None
        try:
            first = await ws.receive()
            if first.type is not WSMsgType.TEXT:
                return ws
            hello = json.loads(first.data)
            self.frames.append(hello)
            if self.script is not None:
                await self.script(ws, hello)
                return ws
            assert hello["method"] == SIGNALWIRE_CONNECT
            self.connects.append(hello["params"])
            params = hello["params"]
            if params["authentication"]["jwt_token"] != self.token:
                error = {"code": TOKEN_ERROR, "message": "bad token"}
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "error": error}))
                return ws
            if "protocol" in params and self.refuse_resume:
                error = {"code": RESUME_REFUSED, "message": "unknown session"}
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "error": error}))
                return ws
            protocol = params.get("protocol") or f"signalwire_jti_{uuid.uuid4()}"
            result = {"identity": "alice", "protocol": protocol, "ice_servers": []}
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": result}))
            await self.event(ws, SIGNALWIRE_AUTHORIZATION_STATE, {"authorization_state": "st-1"})
            self.sockets.append(ws)
            if self.ping_every is not None:
                pinger = asyncio.create_task(self._ping(ws, self.ping_every))
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                data = json.loads(frame.data)
                self.frames.append(data)
                if "result" in data:
                    self.acks.append(data["id"])
                elif data.get("method") == SIGNALWIRE_PING and not self.mute:
                    answer = {"jsonrpc": "2.0", "id": data["id"], "result": data["params"]}
                    await ws.send_str(json.dumps(answer))
        finally:
            if pinger is not None:
                pinger.cancel()
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def _ping(self, ws: web.WebSocketResponse, every: float) -> None:
        n = 0
        while not ws.closed:
            await asyncio.sleep(every)
            n += 1
            frame = {
                "jsonrpc": "2.0",
                "id": f"ping-{n}",
                "method": SIGNALWIRE_PING,
                "params": {"timestamp": 1234.5 + n},
            }
            if not self.mute:
                await ws.send_str(json.dumps(frame))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware])
        app.router.add_get("/", self.socket)
        app.router.add_get("/api/fabric/subscriber/info", self.info)
        app.router.add_post("/api/fabric/conversations/join", self.join)
        app.router.add_get("/api/fabric/conversations", self.conversations)
        app.router.add_get("/api/fabric/conversations/{key}/messages", self.history)
        app.router.add_get("/api/fabric/messages", self.all_messages)
        app.router.add_post("/api/fabric/messages", self.send)
        return app

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app(), shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self.token = make_token(f"ws://127.0.0.1:{port}")

    async def stop(self) -> None:
        await self.drop_sockets()
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[Client]:
    async with Client(token=server.token) as sdk:
        yield sdk


async def eventually(predicate: Any, *, within: float = 10.0) -> None:
    """Wait (bounded) until ``predicate()`` holds, for state that offers no event to await."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - server-side state has no event to await
            await asyncio.sleep(0.005)


class Inbox(list[Any]):
    """A list that callbacks append to, and tests await a length of."""

    def __init__(self) -> None:
        super().__init__()
        self._grown = asyncio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self._grown.set()

    async def wait(self, count: int, *, within: float = 10.0) -> None:
        """Wait until at least ``count`` items arrived."""
        async with asyncio.timeout(within):
            while len(self) < count:
                self._grown.clear()
                await self._grown.wait()


@dataclass
class World:
    """A real in-process server with two subscribers, alice and bob, and their addresses."""

    server: LocalServer
    alice_token: str
    bob_token: str
    alice: str
    bob: str


@pytest.fixture
async def world(store_options: dict[str, Any]) -> AsyncIterator[World]:
    """Start a :class:`LocalServer` (on each store) and mint alice's and bob's tokens."""
    async with LocalServer(**store_options) as server:
        alice_token = await server.token("alice", display_name="Alice")
        bob_token = await server.token("bob", display_name="Bob")
        yield World(
            server,
            alice_token,
            bob_token,
            await server.address_of("alice"),
            await server.address_of("bob"),
        )
