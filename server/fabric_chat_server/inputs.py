"""Who is calling, and what they sent: authentication, rate limits, bodies and parameters.

Everything here raises :class:`~fabric_chat_server.errors.ApiError` on bad input, before any
state changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

import msgspec
from aiohttp import web
from fabric_chat.contract import LIMITS
from fabric_chat_runtime.contract import Route

from .auth import (
    TokenClaims,
    TokenError,
    hash_project_token,
    parse_basic,
    verify_project_token,
)
from .errors import ApiError
from .gate import GateError, check_fields, decode_json, header_text
from .limits import RateLimiter
from .state import ServerState
from .store import AddressRecord, SubscriberRecord

__all__ = [
    "Caller",
    "authenticate",
    "authenticate_project",
    "page_params",
    "client_address",
    "read_body",
    "request_header",
    "verify_subscriber_token",
]

T = TypeVar("T")

_DIGITS = re.compile(r"[0-9]+")
_JSON_TYPES = ("application/json",)
_MAX_PAGE_TOKEN = 1024  # far past any token the server makes


@dataclass(frozen=True, slots=True)
class Caller:
    """The subscriber behind a request's bearer token."""

    subscriber: SubscriberRecord
    addresses: list[AddressRecord]

    @property
    def project_id(self) -> str:
        """The subscriber's project."""
        return self.subscriber.project_id

    @property
    def own(self) -> AddressRecord:
        """The subscriber's own ("from") address."""
        return self.addresses[0]

    @property
    def address_ids(self) -> list[str]:
        """Ids of every address of the subscriber."""
        return [address.id for address in self.addresses]


async def _limit(state: ServerState, caller: str) -> None:
    wait = await state.limiter.acquire(caller)
    if wait > 0:
        raise ApiError(
            429,
            "too many requests",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )


async def verify_subscriber_token(
    state: ServerState, token: str
) -> tuple[TokenClaims, SubscriberRecord]:
    """Check a SAT and return its claims and its subscriber (HTTP and the socket alike).

    Raises:
        TokenError: The token is not a valid SAT of this server, or its subscriber is unknown
            or not of the served project.
    """
    claims = state.token_service.verify(token)
    subscriber = await state.store.get_subscriber(claims.sub)
    if (
        subscriber is None
        or subscriber.project_id != claims.project_id
        or claims.project_id != state.project_id
    ):
        raise TokenError("the token's subscriber is unknown")
    return claims, subscriber


async def authenticate(request: web.Request, state: ServerState) -> Caller:
    """Return the caller of a bearer-authenticated route.

    Raises:
        ApiError: 401 for a missing, malformed, forged, expired or foreign token; 429.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "a bearer token is required")
    if not token.isascii() or len(token) > LIMITS.token_length:
        # A SAT is base64url and dots; anything else (invalid UTF-8 included) is no token.
        raise ApiError(401, "the token is invalid")
    try:
        _, subscriber = await verify_subscriber_token(state, token.strip())
    except TokenError as exc:
        raise ApiError(401, str(exc)) from None
    await _limit(state, "subscriber:" + subscriber.id)
    addresses = await state.store.subscriber_addresses(subscriber.id)
    if not addresses:
        raise ApiError(401, "the token's subscriber has no address")
    return Caller(subscriber=subscriber, addresses=addresses)


async def authenticate_project(request: web.Request, state: ServerState) -> str:
    """Return the project id of a Basic-authenticated route.

    Raises:
        ApiError: 401 unless the project id and API token are right; 429.
    """
    credentials = parse_basic(request.headers.get("Authorization"))
    if credentials is None:
        raise ApiError(401, "project credentials (HTTP Basic) are required")
    project_id, token = credentials
    guard = state.login_guard
    client = client_address(request)
    # Failures count against the served project only: a made-up project id is no key to keep.
    project_key = project_id if project_id == state.project_id else ""
    wait = await guard.wait(client, project_key)
    if wait > 0:
        raise ApiError(
            429,
            "too many failed logins; try again later",
            headers={"Retry-After": guard.retry_after(wait)},
        )
    project = await state.store.get_project(project_id)
    if (
        project is None
        or project_id != state.project_id
        or not await verify_project_token(token, project.token_hash)
    ):
        await guard.failed(client, project_key)
        raise ApiError(401, "the project credentials are wrong")
    if not project.token_hash.startswith("scrypt$"):
        await state.store.put_project(project_id, hash_project_token(token))  # legacy hash
    await _limit(state, "project:" + project_id)
    return project_id


def client_address(request: web.Request) -> str:
    """Return the address of the peer (never a header the caller chooses)."""
    peer = None if request.transport is None else request.transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unknown"


async def read_body(request: web.Request, state: ServerState, body_type: type[T]) -> T:
    """Read, decode and check a JSON body into ``body_type`` (the edge gate, once).

    Raises:
        ApiError: 415 not ``application/json``, 413 over the size limit, 400 invalid UTF-8
            or malformed JSON, 422 wrong shape, types, or past a limit of the spec.
    """
    if request.content_type not in _JSON_TYPES or request.charset not in (None, "utf-8"):
        raise ApiError(415, "the request body must be application/json (UTF-8)")
    if request.content_length is not None and request.content_length > state.config.max_body_bytes:
        raise ApiError(413, "the request body is too large")
    raw = await request.read()
    if len(raw) > state.config.max_body_bytes:
        raise ApiError(413, "the request body is too large")
    try:
        body = decode_json(raw, body_type)
        if isinstance(body, msgspec.Struct):
            check_fields(body)
    except GateError as exc:
        raise ApiError(exc.status, exc.message, attribute=exc.attribute) from None
    return body


def request_header(request: web.Request, name: str) -> str | None:
    """Return a header as checked text (see :func:`~fabric_chat_server.gate.header_text`).

    Raises:
        ApiError: 400 for a value that is not valid UTF-8.
    """
    try:
        return header_text(request.headers, name)
    except GateError as exc:
        raise ApiError(exc.status, exc.message, attribute=exc.attribute) from None


def page_params(request: web.Request, route: Route) -> tuple[int, str | None]:
    """Return ``page_size`` (default and bounds from the contract) and ``page_token``.

    Raises:
        ApiError: 422 for a page size that is not plain ASCII digits or is out of bounds, or
            for an empty token.
    """
    spec = route.param("page_size")
    raw = request.query.get("page_size")
    if raw is None:
        size = int(spec.default) if isinstance(spec.default, int) else 10
    elif _DIGITS.fullmatch(raw) is None:  # not int() alone: it takes "1_0", "+5", " 5"
        raise ApiError(422, "page_size must be written with the digits 0-9", attribute="page_size")
    else:
        digits = raw.lstrip("0") or "0"
        size = int(digits) if len(digits) <= 9 else 10**9  # past any bound, never a huge int()
    low = spec.minimum if spec.minimum is not None else 1
    high = spec.maximum if spec.maximum is not None else 1000
    if not low <= size <= high:
        raise ApiError(422, f"page_size must be in {low}..{high}", attribute="page_size")
    token = request.query.get("page_token")
    if token is not None and not (0 < len(token) <= _MAX_PAGE_TOKEN and token.isascii()):
        raise ApiError(422, "page_token is not a valid page token", attribute="page_token")
    return size, token
