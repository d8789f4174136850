"""Keyset pagination with opaque, tamper-evident page tokens.

A page token holds a direction and a :data:`~fabric_chat_server.store.Position`, bound to the
list it came from (and, for a list of :data:`~fabric_chat_server.store.SNAPSHOT_LISTS`, the
snapshot the walk reads), packed with msgpack, signed with HMAC-SHA256 and base64url-encoded.
Pages are newest first; ``next`` goes to older items, ``prev`` to newer ones, and each link is
present exactly when such items exist.

One store call makes a page: it asks for one item more than the page holds, and that extra item
says whether the link on the far side exists. The link on the near side exists exactly when the
page came from a token: the item the token points at lies there, and nothing is ever deleted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import msgspec
from yarl import URL

from .store import SNAPSHOT_LISTS, Direction, ListKind, Position, Store

__all__ = ["PageTokenError", "PageTokens", "PagedResult", "fetch_page", "position_of"]

_MAC_BYTES = 16


class PageTokenError(ValueError):
    """A page token is malformed, forged, or belongs to another list."""


class _Token(msgspec.Struct, array_like=True, frozen=True):
    direction: Direction
    sort: float
    id: str
    scope: str
    as_of: float | None = None


_encode_token = msgspec.msgpack.Encoder().encode
_decode_token = msgspec.msgpack.Decoder(_Token).decode


class PageTokens:
    """Sign and check page tokens with a key derived from the server secret.

    Args:
        secret: The server secret.
    """

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"fabric-chat page token\x00" + secret.encode()).digest()

    def __repr__(self) -> str:
        return "PageTokens()"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(
        self, direction: Direction, position: Position, scope: str, as_of: float | None = None
    ) -> str:
        """Return the token of a page beyond ``position`` in ``direction`` of list ``scope``."""
        payload = _encode_token(_Token(direction, position[0], position[1], scope, as_of))
        return base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode()

    def decode(self, token: str, scope: str) -> tuple[Direction, Position, float | None]:
        """Check a token and return its direction, position and snapshot.

        Raises:
            PageTokenError: The token is malformed, forged, or from another list.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise PageTokenError("page_token is not a valid page token") from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise PageTokenError("page_token is not a valid page token")
        try:
            decoded = _decode_token(payload)
        except msgspec.DecodeError:
            raise PageTokenError("page_token is not a valid page token") from None
        if decoded.scope != scope:
            raise PageTokenError("page_token belongs to another list")
        return decoded.direction, (decoded.sort, decoded.id), decoded.as_of


def position_of(item: Any) -> Position:
    """Return the keyset position of a stored record."""
    if hasattr(item, "ts"):
        return (float(item.ts), str(item.id))
    if hasattr(item, "group_id"):
        activity = item.last_message_at if item.last_message_at is not None else item.created_at
        return (float(activity), str(item.group_id))
    return (float(item.created_at), str(item.id))


@dataclass(frozen=True, slots=True)
class PagedResult:
    """The records of one page and its links (absolute URLs; ``None`` when absent)."""

    items: list[Any]
    self_url: str
    first_url: str
    next_url: str | None
    prev_url: str | None


async def fetch_page(
    store: Store,
    tokens: PageTokens,
    *,
    kind: ListKind,
    scope: str,
    url: URL,
    page_size: int,
    page_token: str | None,
) -> PagedResult:
    """Fetch one page of a list (one store call) and build its links from the request's ``url``.

    An empty page has no ``next`` or ``prev`` (nothing is ever deleted, so only an empty list
    gives one).

    Raises:
        PageTokenError: ``page_token`` is not a token of this list.
    """
    token_scope = f"{kind}:{scope}"
    position: Position | None = None
    direction: Direction = "older"
    as_of: float | None = None
    if page_token is not None:
        direction, position, as_of = tokens.decode(page_token, token_scope)
    if kind in SNAPSHOT_LISTS and as_of is None:
        as_of = await store.snapshot()
    items = await store.list_page(kind, scope, position, direction, page_size + 1, as_of=as_of)
    more = len(items) > page_size
    if more:
        # The extra item is the one farthest from ``position``: the oldest when walking older,
        # the newest when walking newer.
        items = items[:page_size] if direction == "older" else items[1:]
    has_older = more if direction == "older" else position is not None
    has_newer = more if direction == "newer" else position is not None
    base = url.without_query_params("page_token").update_query(page_size=page_size)
    next_url = prev_url = None
    if items:
        newest, oldest = position_of(items[0]), position_of(items[-1])
        if has_older:
            token = tokens.encode("older", oldest, token_scope, as_of)
            next_url = str(base.update_query(page_token=token))
        if has_newer:
            token = tokens.encode("newer", newest, token_scope, as_of)
            prev_url = str(base.update_query(page_token=token))
    return PagedResult(
        items=items,
        self_url=str(url),
        first_url=str(base),
        next_url=next_url,
        prev_url=prev_url,
    )
