"""Build the aiohttp application: REST routes from the contract, the WebSocket at ``/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator

from aiohttp import web
from fabric_chat.contract import LIMITS, WS_PATH

from .auth import TokenService, hash_project_token
from .bus import Bus, LocalBus
from .config import ADDRESS_FACTOR, ServerConfig
from .cors import add_cors
from .errors import error_middleware
from .hub import Hub
from .limits import LoginGuard, make_throttle
from .pagination import PageTokens
from .relay import Relay
from .request_log import add_request_ids, request_id_middleware
from .routes import register_routes
from .sqlite_store import SqliteStore
from .state import STATE, ServerState
from .store import Store
from .websocket import _CONNECTIONS, close_all_sockets, websocket_handler

__all__ = ["create_app", "ensure_credentials", "open_store"]

logger = logging.getLogger(__name__)

_SECRET_SETTING = "jwt_secret"
_PROJECT_SETTING = "generated_project_id"


async def ensure_credentials(state: ServerState) -> None:
    """Settle the project credentials and the signing secret, storing what is new.

    Given credentials replace the stored token of that project; with none given the oldest
    stored project is served, or a new pair is made (kept in ``state.project_token`` for the
    caller to print once).

    Raises:
        ValueError: Only one of project id and project token was given.
    """
    config, store = state.config, state.store
    if (config.project_id is None) != (config.project_token is None):
        raise ValueError("give both the project id and the project token, or neither")
    if config.project_id is not None and config.project_token is not None:
        await store.put_project(config.project_id, hash_project_token(config.project_token))
        state.project_id, state.project_token = config.project_id, config.project_token
    else:
        project = await store.first_project()
        if project is None:
            # N instances starting at once on an empty database agree on one project: the
            # first to store its id serves it; the others serve that one (its token unknown).
            project_id, token = str(uuid.uuid4()), "PT" + secrets.token_hex(24)
            chosen = await store.ensure_setting(_PROJECT_SETTING, project_id)
            if chosen == project_id:
                await store.put_project(project_id, hash_project_token(token))
                state.project_token = token
                state.generated_credentials = True
            state.project_id = chosen
        else:
            state.project_id = project.id
    # The same for the signing secret: every instance must sign with the same one.
    secret = config.jwt_secret or await store.ensure_setting(
        _SECRET_SETTING, secrets.token_urlsafe(32)
    )
    lifetime = min(config.max_token_lifetime, float(LIMITS.token_lifetime))
    state.tokens = TokenService(secret, ttl=config.token_ttl, max_lifetime=lifetime)
    state.page_tokens = PageTokens(secret)


async def _keep_sessions(state: ServerState) -> None:
    """Save acked positions every interval; mark live sessions seen; expire old sessions and
    idempotency keys."""
    config = state.config
    interval = max(0.05, config.positions_save_interval)
    touch_every = max(interval, min(5.0, config.resume_window / 10))
    touched = 0.0
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        touch = now - touched >= touch_every
        try:
            await state.hub.save(touch_all=touch)
            if touch:
                touched = now
                await state.store.expire_sessions(time.time() - config.resume_window)
                await state.store.expire_idempotency_keys(time.time() - config.idempotency_key_ttl)
        except Exception:  # a failed save is retried next time; the positions stay behind
            logger.exception("saving session positions failed")


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    await state.store.open()
    try:
        await ensure_credentials(state)
        await state.relay.start()
        try:
            keeper = asyncio.get_running_loop().create_task(_keep_sessions(state))
            try:
                yield
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                await state.hub.save(touch_all=True)
        finally:
            await state.relay.close()
    finally:
        await state.store.close()


async def _on_shutdown(app: web.Application) -> None:
    state = app[STATE]
    state.shutting_down = True
    await close_all_sockets(app, graceful=True)


def open_store(config: ServerConfig) -> Store:
    """Return the store ``config`` names: PostgreSQL for a ``database_url``, else SQLite."""
    if config.database_url is not None:
        from .postgres_store import PostgresStore  # needs the postgres extra

        return PostgresStore(config.database_url)
    return SqliteStore(config.db_path)


def create_app(
    config: ServerConfig, *, store: Store | None = None, bus: Bus | None = None
) -> web.Application:
    """Return the chat server application for ``config``.

    Args:
        config: The settings.
        store: The storage; defaults to :func:`open_store` of ``config``.
        bus: Carries positions to the other instances; by default a
            :class:`~fabric_chat_server.bus_postgres.PostgresBus` on ``config.database_url``,
            else a :class:`LocalBus` (one instance: nobody to tell).

    Raises:
        RuntimeError: The route contract names an operation without a handler.
        ValueError: ``config.cors_origins`` holds something that is not an origin.
    """
    store = store if store is not None else open_store(config)
    if bus is None and config.database_url is not None:
        from .bus_postgres import PostgresBus  # needs the postgres extra

        bus = PostgresBus(config.database_url)
    hub = Hub(store)
    state = ServerState(
        config=config,
        store=store,
        hub=hub,
        relay=Relay(store, hub, bus if bus is not None else LocalBus()),
        # Shared across instances when the store offers it (PostgreSQL), else in this process.
        limiter=make_throttle(
            store, "request", config.rate_limit_per_second, config.rate_limit_burst
        ),
        connect_limiter=make_throttle(
            store, "connect", config.connects_per_second, config.connect_burst
        ),
        address_connect_limiter=make_throttle(
            store,
            "connect-address",
            config.connects_per_second * ADDRESS_FACTOR,
            config.connect_burst * ADDRESS_FACTOR,
        ),
        login_guard=LoginGuard(store=store),
    )
    app = web.Application(
        middlewares=[request_id_middleware, error_middleware(state.stats)],
        client_max_size=config.max_body_bytes,
    )
    app[STATE] = state
    app[_CONNECTIONS] = set()
    add_request_ids(app)
    register_routes(app)
    add_cors(app, config.cors_origins)
    app.router.add_get(WS_PATH, websocket_handler)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_on_shutdown)
    return app
