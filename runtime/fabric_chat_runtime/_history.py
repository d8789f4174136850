"""Message history over the paged routes: plain pages, refilled chat views, and backfills."""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlencode

import msgspec

from . import errors
from ._decoders import has_field
from ._http import HttpClient
from .contract import PageEnvelope
from .logs import get_logger
from .pagination import Page

__all__ = [
    "HistoryReader",
    "Position",
    "decode_page",
    "fetch_newer",
    "first_url",
    "message_position",
    "rewrite_target",
]

logger = get_logger(__name__)

T = TypeVar("T")

_Fetch = Callable[[], Awaitable[Page[T]]]

#: At most this many server pages are read to fill one page or one backfill.
MAX_ROUNDS = 200


def first_url(http: HttpClient, path: str, query: Mapping[str, str | int]) -> str:
    """Return the absolute URL of a paged route's first page."""
    return http.url(path) + "?" + urlencode({key: str(value) for key, value in query.items()})


def message_position(item: object) -> tuple[float, str]:
    """Return the ``(ts, id)`` that orders messages."""
    ts = getattr(item, "ts", 0.0)
    return (float(ts) if isinstance(ts, int | float) else 0.0, str(getattr(item, "id", "")))


def rewrite_target(item_type: Any, address_id: str | None, chat_only: bool) -> str | None:
    """Return the ``conversation_id`` that chat items of one address are given, or ``None``.

    The chat namespace reports each message under the address it was asked for (the server
    knows it by its group), when the item type has a ``conversation_id`` at all.
    """
    if chat_only and address_id is not None and has_field(item_type, "conversation_id"):
        return address_id
    return None


def decode_page(decode: Callable[[bytes], PageEnvelope], body: bytes) -> PageEnvelope:
    """Decode a page envelope with ``decode``.

    Raises:
        ProtocolError: The body is not a page of such items.
    """
    try:
        return decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise errors.ProtocolError(f"unexpected page: {exc}") from None


class Position(NamedTuple):
    """Where an item sits on the server: the page URL, its index and id there."""

    url: str
    offset: int
    item_id: str
    newer: bool
    """Whether the server has newer items than this one (earlier in its page, or a prev link)."""


class _Slot(NamedTuple, Generic[T]):
    """A chat item and where it sat: one tuple per item (pages build a hundred at a time)."""

    item: T
    url: str
    offset: int
    newer: bool

    @property
    def at(self) -> Position:
        """The item's :class:`Position`, built only for the few slots that need one."""
        return Position(self.url, self.offset, str(getattr(self.item, "id", "")), self.newer)


class HistoryReader(Generic[T]):
    """Builds the pages of one history call; each page fetches its neighbours through it."""

    def __init__(
        self,
        http: HttpClient,
        *,
        item_type: type[T],
        page_size: int,
        chat_only: bool,
        address_id: str | None,
        timeout: float | None,
    ) -> None:
        self._http = http
        self._decode = http.page_decoder(item_type)
        self._size = page_size
        self._chat_only = chat_only
        self._timeout = timeout
        self._rewrite_to = rewrite_target(item_type, address_id, chat_only)

    async def _get(self, url: str) -> PageEnvelope:
        return decode_page(self._decode, await self._http.call("GET", url, timeout=self._timeout))

    # Plain pages: the server's pages as they are.

    async def first(self, url: str) -> Page[T]:
        """Return the first page starting at ``url``."""
        if self._chat_only:
            return await self._fill([], url, None, newest=True)
        return await self._plain(url)

    async def _plain(self, url: str) -> Page[T]:
        envelope = await self._get(url)
        return Page(
            envelope.data,
            next_fetch=self._plain_fetch(envelope.links.next),
            prev_fetch=self._plain_fetch(envelope.links.prev),
        )

    def _plain_fetch(self, url: str | None) -> Any:
        if url is None:
            return None

        async def fetch() -> Page[T]:
            return await self._plain(url)

        return fetch

    # Chat views: only chat items, refilled to page_size, surplus carried.

    def _slots(self, url: str, envelope: PageEnvelope, end: int | None = None) -> list[_Slot[T]]:
        slots: list[_Slot[T]] = []
        newer = envelope.links.prev is not None
        rewrite_to = self._rewrite_to
        for index, item in enumerate(envelope.data[:end]):
            if getattr(item, "subtype", None) != "chat":
                continue
            if rewrite_to is not None and getattr(item, "conversation_id", None) != rewrite_to:
                item = msgspec.structs.replace(item, conversation_id=rewrite_to)
            slots.append(_Slot(item, url, index, newer))
            newer = True
        return slots

    async def _fill(
        self,
        pending: list[_Slot[T]],
        next_url: str | None,
        back: _Fetch[T] | None,
        *,
        newest: bool = False,
    ) -> Page[T]:
        """Collect ``page_size`` chat items from ``pending`` then the pages from ``next_url``.

        ``back`` fetches the page before the items collected (the newer one); ``newest`` says
        the first server page is the newest one: the page has no newer page. Without any chat
        item the page is empty and ``back`` is its previous page; it still has a next page when
        the scan stopped at :data:`MAX_ROUNDS` before the end of the history.
        """
        collected = list(pending)
        rounds = 0
        while len(collected) < self._size and next_url is not None and rounds < MAX_ROUNDS:
            envelope = await self._get(next_url)
            collected.extend(self._slots(next_url, envelope))
            next_url = envelope.links.next
            rounds += 1
        if not collected:
            return Page([], next_fetch=self._fill_fetch([], next_url, back), prev_fetch=back)
        taken, carry = collected[: self._size], collected[self._size :]
        return self._page(taken, carry, next_url, newest=newest)

    def _fill_fetch(
        self, carry: list[_Slot[T]], next_url: str | None, back: _Fetch[T] | None
    ) -> _Fetch[T] | None:
        """Return what fetches the page of ``carry`` then ``next_url`` (``None``: no page)."""
        if not carry and next_url is None:
            return None

        async def fetch() -> Page[T]:
            return await self._fill(carry, next_url, back)

        return fetch

    def _page(
        self, taken: list[_Slot[T]], carry: list[_Slot[T]], next_url: str | None, *, newest: bool
    ) -> Page[T]:
        start = taken[0].at
        prev_fetch = None
        if start.newer and not newest:

            async def prev_fetch() -> Page[T]:
                return await self._backward(start)

        next_fetch = None
        if carry or next_url is not None:
            last = taken[-1].at

            async def back() -> Page[T]:
                return await self._backward(last, through=True)

            next_fetch = self._fill_fetch(carry, next_url, back)
        items = [slot.item for slot in taken]
        return Page(items, next_fetch=next_fetch, prev_fetch=prev_fetch)

    async def _located(self, at: Position) -> tuple[PageEnvelope, int]:
        envelope = await self._get(at.url)
        for index, item in enumerate(envelope.data):
            if str(getattr(item, "id", "")) == at.item_id:
                return envelope, index
        return envelope, min(at.offset, len(envelope.data))

    async def _from_position(self, at: Position, *, past: bool = False) -> Page[T]:
        """Return the chat page that starts at ``at`` (just after it, when ``past``)."""
        envelope, index = await self._located(at)
        index += past
        slots = [slot for slot in self._slots(at.url, envelope) if slot.offset >= index]

        async def back() -> Page[T]:
            return await self._backward(at, through=past)

        return await self._fill(slots, envelope.links.next, back)

    async def _backward(self, at: Position, *, through: bool = False) -> Page[T]:
        """Return the chat page just newer than ``at`` (ending with ``at`` when ``through``).

        Without any chat item the page is empty; it still has a previous page when the scan
        stopped at :data:`MAX_ROUNDS` before the newest page.
        """
        envelope, index = await self._located(at)
        collected = self._slots(at.url, envelope, end=index + through)
        prev_url = envelope.links.prev
        rounds = 0
        while len(collected) < self._size and prev_url is not None and rounds < MAX_ROUNDS:
            older_first = await self._get(prev_url)
            collected = self._slots(prev_url, older_first) + collected
            prev_url = older_first.links.prev
            rounds += 1

        async def next_fetch() -> Page[T]:
            return await self._from_position(at, past=through)

        if not collected:
            more = None
            if prev_url is not None:
                # Every item of that page is newer than ``at``: no id matches, the offset is
                # past them all.
                beyond = Position(prev_url, sys.maxsize, "", True)

                async def more() -> Page[T]:
                    return await self._backward(beyond)

            return Page([], next_fetch=next_fetch, prev_fetch=more)
        taken = collected[-self._size :]
        start = taken[0].at
        if len(collected) > self._size and not start.newer:
            start = Position(start.url, start.offset, start.item_id, True)

        prev_fetch = None
        if start.newer:

            async def prev_fetch() -> Page[T]:
                return await self._backward(start)

        return Page([slot.item for slot in taken], next_fetch=next_fetch, prev_fetch=prev_fetch)


async def fetch_newer(
    http: HttpClient,
    url: str,
    *,
    item_type: type[T],
    after: tuple[float, str] | None,
    chat_only: bool,
    timeout: float | None = None,
) -> list[T]:
    """Return the messages newer than ``after`` (``(ts, id)``), oldest first.

    Reads pages from ``url`` (the newest) until it reaches ``after`` or the end, at most
    :data:`MAX_ROUNDS` pages. ``after=None`` (the history was empty) means every message.
    """
    decode = http.page_decoder(item_type)
    found: list[T] = []
    next_url: str | None = url
    rounds = 0
    while next_url is not None and rounds < MAX_ROUNDS:
        envelope = decode_page(decode, await http.call("GET", next_url, timeout=timeout))
        rounds += 1
        for item in envelope.data:
            if after is not None and message_position(item) <= after:
                next_url = None
                break
            if not chat_only or getattr(item, "subtype", None) == "chat":
                found.append(item)
        else:
            next_url = envelope.links.next
    if rounds >= MAX_ROUNDS:  # pragma: no cover - a very long outage
        logger.warning("backfill stopped after %d pages", rounds)
    found.reverse()
    return found
