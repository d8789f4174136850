"""Every HTTP answer carries an ``X-Request-Id``, and every request is one log line.

The id is the caller's own ``X-Request-Id`` when it is a short, plain token (so a client and
the server can name the same request), or else a new ``req_<hex>``. The log line, at INFO on
``fabric_chat_server.requests``, says ``METHOD PATH STATUS TIMEms request_id=ID``: the path
only, never the query, a header or a body, so no token reaches it.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .logs import escape_controls

__all__ = ["REQUEST_ID", "add_request_ids", "request_id_middleware"]

logger = logging.getLogger("fabric_chat_server.requests")

#: The header, on requests (optional) and on every answer.
REQUEST_ID = "X-Request-Id"
_KEY = web.RequestKey("request_id", str)
_ACCEPTED = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID, "")
    return given if _ACCEPTED.match(given) else "req_" + secrets.token_hex(12)


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Name the request, answer with its id, and log one line when it is done."""
    request_id = request[_KEY] = _request_id(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID] = request_id
        raise
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %d %.1fms request_id=%s",
            request.method,
            escape_controls(request.path),  # decoded: %0A in the path would be a newline
            status,
            elapsed,
            request_id,
        )


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(_KEY)
    if request_id is not None:
        response.headers[REQUEST_ID] = request_id


def add_request_ids(app: web.Application) -> None:
    """Set ``X-Request-Id`` on every answer of ``app``, WebSocket upgrades included."""
    app.on_response_prepare.append(_on_prepare)
