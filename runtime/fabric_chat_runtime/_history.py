"""Message history over the paged routes: plain pages, refilled chat views, and backfills."""

# The seam's methods take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlencode

import msgspec

from ._http import HttpClient
from .codec import Envelope, envelope_decoder, has_field
from .pagination import Page

__all__ = ["HistoryReader", "Position", "fetch_newer", "first_url", "message_position"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: At most this many server pages are read to fill one page or one backfill.
MAX_ROUNDS = 200


def first_url(http: HttpClient, path: str, query: Mapping[str, str | int]) -> str:
    """Return the absolute URL of a paged route's first page."""
    return http.url(path) + "?" + urlencode({key: str(value) for key, value in query.items()})


def message_position(item: object) -> tuple[float, str]:
    """Return the ``(ts, id)`` that orders messages."""
    ts = getattr(item, "ts", 0.0)
    return (float(ts) if isinstance(ts, int | float) else 0.0, str(getattr(item, "id", "")))


def _is_chat(item: object) -> bool:
    return getattr(item, "subtype", None) == "chat"


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
        self._decode = envelope_decoder(item_type).decode
        self._size = page_size
        self._chat_only = chat_only
        self._timeout = timeout
        rewrite = chat_only and address_id is not None and has_field(item_type, "conversation_id")
        self._rewrite_to = address_id if rewrite else None

    async def _get(self, url: str) -> Envelope[T]:
        body = await self._http.call("GET", url, timeout=self._timeout)
        envelope: Envelope[T] = self._decode(body)
        return envelope

    # Plain pages: the server's pages as they are.

    async def first(self, url: str) -> Page[T]:
        """Return the first page starting at ``url``."""
        if self._chat_only:
            page = await self._fill([], url, newest=True)
            return page if page is not None else Page([])
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

    def _slots(self, url: str, envelope: Envelope[T], end: int | None = None) -> list[_Slot[T]]:
        slots: list[_Slot[T]] = []
        newer = envelope.links.prev is not None
        rewrite_to = self._rewrite_to
        for index, item in enumerate(envelope.data[:end]):
            if getattr(item, "subtype", None) != "chat":
                continue
            if rewrite_to is not None and getattr(item, "conversation_id", None) != rewrite_to:
                item = msgspec.structs.replace(item, conversation_id=rewrite_to)  # type: ignore[type-var]
            slots.append(_Slot(item, url, index, newer))
            newer = True
        return slots

    async def _fill(
        self, pending: list[_Slot[T]], next_url: str | None, *, newest: bool = False
    ) -> Page[T] | None:
        """Collect ``page_size`` chat items from ``pending`` then the pages from ``next_url``.

        ``newest`` says the first server page is the newest one: the page has no newer page.
        """
        collected = list(pending)
        rounds = 0
        while len(collected) < self._size and next_url is not None and rounds < MAX_ROUNDS:
            envelope = await self._get(next_url)
            collected.extend(self._slots(next_url, envelope))
            next_url = envelope.links.next
            rounds += 1
        if not collected:
            return None
        taken, carry = collected[: self._size], collected[self._size :]
        return self._page(taken, carry, next_url, newest=newest)

    def _page(
        self, taken: list[_Slot[T]], carry: list[_Slot[T]], next_url: str | None, *, newest: bool
    ) -> Page[T]:
        start = taken[0].at
        next_fetch = None
        if carry or next_url is not None:

            async def next_fetch() -> Page[T] | None:
                return await self._fill(carry, next_url)

        prev_fetch = None
        if start.newer and not newest:

            async def prev_fetch() -> Page[T] | None:
                return await self._backward(start)

        return Page([slot.item for slot in taken], next_fetch=next_fetch, prev_fetch=prev_fetch)

    async def _located(self, at: Position) -> tuple[Envelope[T], int]:
        envelope = await self._get(at.url)
        for index, item in enumerate(envelope.data):
            if str(getattr(item, "id", "")) == at.item_id:
                return envelope, index
        return envelope, min(at.offset, len(envelope.data))

    async def _from_position(self, at: Position) -> Page[T] | None:
        envelope, index = await self._located(at)
        slots = [slot for slot in self._slots(at.url, envelope) if slot.offset >= index]
        return await self._fill(slots, envelope.links.next)

    async def _backward(self, at: Position) -> Page[T] | None:
        envelope, index = await self._located(at)
        collected = self._slots(at.url, envelope, end=index)
        prev_url = envelope.links.prev
        rounds = 0
        while len(collected) < self._size and prev_url is not None and rounds < MAX_ROUNDS:
            older_first = await self._get(prev_url)
            collected = self._slots(prev_url, older_first) + collected
            prev_url = older_first.links.prev
            rounds += 1
        if not collected:
            return None
        taken = collected[-self._size :]
        start = taken[0].at
        if len(collected) > self._size and not start.newer:
            start = Position(start.url, start.offset, start.item_id, True)

        async def next_fetch() -> Page[T] | None:
            return await self._from_position(at)

        prev_fetch = None
        if start.newer:

            async def prev_fetch() -> Page[T] | None:
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
    decode = envelope_decoder(item_type).decode
    found: list[T] = []
    next_url: str | None = url
    rounds = 0
    while next_url is not None and rounds < MAX_ROUNDS:
        envelope: Envelope[T] = decode(await http.call("GET", next_url, timeout=timeout))
        rounds += 1
        for item in envelope.data:
            if after is not None and message_position(item) <= after:
                next_url = None
                break
            if not chat_only or _is_chat(item):
                found.append(item)
        else:
            next_url = envelope.links.next
    if rounds >= MAX_ROUNDS:  # pragma: no cover - a very long outage
        logger.warning("backfill stopped after %d pages", rounds)
    found.reverse()
    return found
