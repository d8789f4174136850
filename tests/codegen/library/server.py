"""A small in-process server for the second spec (``library.yaml``): books, loans, notices.

It answers the REST routes of the spec (bearer token, JSON bodies, page envelopes with links,
``{"errors": [...]}`` bodies) and the JSON-RPC socket the runtime's live feed speaks
(``signalwire.connect``, then ``signalwire.event`` frames of type ``conversation.message``).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["LibraryServer"]

AUTHORS = {"a1": {"id": "a1", "name": "Ursula K. Le Guin", "born": 1929}}


def _token(ch: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'typ': 'SAT', 'alg': 'HS256', 'ch': ch})}.{part({'sub': 'reader'})}.c2ln"


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"errors": [{"type": "error", "code": code, "message": message}]}
    return web.json_response(body, status=status)


class LibraryServer:
    """The library's routes and socket on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.books: dict[str, dict[str, Any]] = {}
        self.loans: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self.keys: dict[str, str] = {}
        self.headers_seen: list[dict[str, str]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        self.ws_url = ""
        self.token = ""
        self.clock = 1_700_000_000.0

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/" and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized", "bad token")
        self.headers_seen.append(dict(request.headers))
        response: web.StreamResponse = await handler(request)
        return response

    def _page(self, request: web.Request, items: list[dict[str, Any]]) -> web.Response:
        try:
            size = int(request.query.get("page_size", "10"))
            start = int(request.query.get("page_token", "0"))
        except ValueError:
            return _error(422, "bad_page", "page_size and page_token are integers")
        if not 1 <= size <= 100:
            return _error(422, "bad_page_size", "page_size must be in 1..100")
        base = f"{self.base_url}{request.path}"
        query = {k: v for k, v in request.query.items() if k not in {"page_token"}}
        links: dict[str, str] = {"self": str(request.url), "first": base}

        def link(offset: int) -> str:
            return str(request.url.with_query({**query, "page_token": str(offset)}))

        if start + size < len(items):
            links["next"] = link(start + size)
        if start > 0:
            links["prev"] = link(max(0, start - size))
        return web.json_response({"data": items[start : start + size], "links": links})

    async def get_book(self, request: web.Request) -> web.Response:
        book = self.books.get(request.match_info["book_id"])
        if book is None:
            return _error(404, "not_found", "no such book")
        return web.json_response(book)

    async def list_books(self, request: web.Request) -> web.Response:
        tag = request.query.get("tag")
        books = [b for b in self.books.values() if tag is None or tag in b["tags"]]
        return self._page(request, books)

    async def create_book(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self.keys:
            return web.json_response(self.books[self.keys[key]], status=201)
        body = await request.json()
        title = body.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 100:
            return _error(422, "bad_title", "title must hold 1 to 100 characters")
        author = AUTHORS.get(body.get("author_id", ""))
        if author is None:
            return _error(404, "not_found", "no such author")
        book = {
            "id": f"b{len(self.books) + 1}",
            "title": body["title"],
            "author": author,
            "cover": body.get("cover"),
            "tags": body.get("tags", []),
            "ratings": body.get("ratings", {}),
            "extra": {"shelf": "A"},
            "format": body.get("format", ""),
            "price": None,
            "available": True,
        }
        self.books[book["id"]] = book
        if key is not None:
            self.keys[key] = book["id"]
        return web.json_response(book, status=201)

    async def lend(self, request: web.Request) -> web.Response:
        book = self.books.get(request.match_info["book_id"])
        if book is None:
            return _error(404, "not_found", "no such book")
        body = await request.json()
        days = body.get("days", 14)
        if not isinstance(days, int) or not 1 <= days <= 60:
            return _error(422, "bad_days", "days must be in 1..60")
        loan = {"id": f"l{len(self.loans) + 1}", "book_id": book["id"], "reader": body["reader"]}
        loan["days"] = days
        self.loans.append(loan)
        self.clock += 1.0
        notice = {
            "id": f"n{len(self.notices) + 1}",
            "ts": self.clock,
            "book_id": book["id"],
            "text": f"{book['title']} lent to {loan['reader']}",
        }
        self.notices.insert(0, notice)
        await self.publish(notice)
        return web.json_response(loan, status=201)

    async def list_notices(self, request: web.Request) -> web.Response:
        return self._page(request, self.notices)

    async def publish(self, notice: dict[str, Any]) -> None:
        """Send a notice to every open socket as the feed's event."""
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(
                    json.dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": str(uuid.uuid4()),
                            "method": "signalwire.event",
                            "params": {
                                "event_type": "conversation.message",
                                "timestamp": self.clock,
                                "params": notice,
                            },
                        }
                    )
                )

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        first = await ws.receive()
        if first.type is not WSMsgType.TEXT:
            return ws
        hello = json.loads(first.data)
        if hello["params"]["authentication"]["jwt_token"] != self.token:
            error = {"code": -32002, "message": "bad token"}
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "error": error}))
            return ws
        result = {"identity": "reader", "protocol": f"library_{uuid.uuid4()}", "ice_servers": []}
        await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": hello["id"], "result": result}))
        self.sockets.append(ws)
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                data = json.loads(frame.data)
                if data.get("method") == "signalwire.ping":
                    answer = {"jsonrpc": "2.0", "id": data["id"], "result": data["params"]}
                    await ws.send_str(json.dumps(answer))
        finally:
            self.sockets.remove(ws)
        return ws

    async def __aenter__(self) -> LibraryServer:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self.socket)
        app.router.add_get("/books/{book_id}", self.get_book)
        app.router.add_get("/books", self.list_books)
        app.router.add_post("/books", self.create_book)
        app.router.add_post("/books/{book_id}/loans", self.lend)
        app.router.add_get("/notices", self.list_notices)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.token = _token(self.ws_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
