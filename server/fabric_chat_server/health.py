"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: store and bus are up).

A load balancer or orchestrator polls them: ``/healthz`` fails only when the process is stuck,
``/readyz`` answers 503 with an error body naming each part that is down (``store``, ``bus``),
so that traffic goes to another instance until this one is back.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from aiohttp import web
from fabric_chat.models import ErrorBody, ErrorItem, HealthStatus
from fabric_chat_runtime.contract import Route

from .encoding import encode
from .state import ServerState

__all__ = ["READY_TIMEOUT", "get_health", "get_readiness", "problems"]

logger = logging.getLogger(__name__)

READY_TIMEOUT = 2.0
"""Seconds the store gets to answer a readiness check."""

_PROBE_KEY = "readiness-probe"  # a setting that is never written: a cheap real read


def _item(code: str, message: str, attribute: str) -> ErrorItem:
    return ErrorItem(type="server_error", code=code, message=message, attribute=attribute)


async def problems(state: ServerState) -> list[ErrorItem]:
    """Return one error item per part that is down (``store``, ``bus``); empty when ready."""
    down: list[ErrorItem] = []
    if state.shutting_down:
        down.append(_item("shutting_down", "the server is shutting down", "server"))
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await state.store.get_setting(_PROBE_KEY)
    except Exception as exc:  # any failure to read means: not ready
        logger.warning("readiness: the store did not answer (%s)", type(exc).__name__)
        down.append(_item("store_down", "the store does not answer", "store"))
    for problem in state.relay.bus.problems():
        down.append(_item("bus_down", problem, "bus"))
    return down


def _json(value: msgspec.Struct, status: int) -> web.Response:
    return web.Response(body=encode(value), status=status, content_type="application/json")


async def get_health(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``GET /healthz``: the process answers."""
    return _json(HealthStatus(status="ok"), route.status)


async def get_readiness(request: web.Request, state: ServerState, route: Route) -> web.Response:
    """``GET /readyz``: 200 when the store and the bus are up, else 503 naming what is down."""
    down = await problems(state)
    if down:
        return _json(ErrorBody(errors=down), 503)
    return _json(HealthStatus(status="ready"), route.status)
