"""Who is calling: the subscriber behind a bearer token, the project behind Basic credentials.

Every authenticated request is rate-limited per caller. Everything here raises
:class:`~fabric_chat_server.errors.ApiError` (401, 429) before any state changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from fabric_chat.contract import LIMITS

from .auth import (
    TokenClaims,
    TokenError,
    hash_project_token,
    parse_basic,
    verify_project_token,
)
from .errors import ApiError
from .limits import RateLimiter
from .state import ServerState
from .store import AddressRecord, SubscriberRecord

__all__ = [
    "Caller",
    "authenticate",
    "authenticate_project",
    "client_address",
    "verify_subscriber_token",
]


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
    # Only the served project is read from the store: any other id (a NUL in it included,
    # which PostgreSQL cannot even compare) is wrong without a query.
    project = await state.store.get_project(project_id) if project_key else None
    if project is None or not await verify_project_token(token, project.token_hash):
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
