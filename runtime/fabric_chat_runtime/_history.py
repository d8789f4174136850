"""History over the paged routes: plain pages, views refilled to the page size, and backfills.

A page of a view holds two cursors, each a :class:`Position` between two items of a server page
already read (the page itself is kept, so going back never reads it again to find its place):
the items before the position are newer, the ones from it on are older.
"""

# Reads take a per-call ``timeout`` (seconds) by design; it bounds each HTTP attempt.
# ruff: noqa: ASYNC109

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import msgspec

from . import errors
from ._http import HttpClient
from .contract import PageEnvelope
from .message_view import FeedView
from .pagination import Page

__all__ = [
    "HistoryReader",
    "PlainPages",
    "Position",
    "ServerPage",
    "decode_page",
    "fetch_newer",
    "first_url",
    "message_position",
]

logger = logging.getLogger("fabric_chat.history")

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


def decode_page(decode: Callable[[bytes], PageEnvelope], body: bytes) -> PageEnvelope:
    """Decode a page envelope with ``decode``.

    Raises:
        ProtocolError: The body is not a page of such items.
    """
    try:
        return decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise errors.ProtocolError(f"unexpected page: {exc}") from None


@dataclass(frozen=True, slots=True, eq=False)
class ServerPage(Generic[T]):
    """One server page as read: the items the view keeps, as it shows them, and its links."""

    items: tuple[T, ...]
    prev: str | None
    """The server's newer page."""
    next: str | None
    """The server's older page."""


@dataclass(frozen=True, slots=True)
class Position(Generic[T]):
    """A place in a view: ``page.items[:offset]`` are newer than it, ``page.items[offset:]``
    older (then the server's pages on either side)."""

    page: ServerPage[T]
    offset: int

    @property
    def has_newer(self) -> bool:
        """Whether anything newer may exist (a kept item before it, or a newer server page)."""
        return self.offset > 0 or self.page.prev is not None

    @property
    def has_older(self) -> bool:
        """Whether anything older may exist (a kept item from it on, or an older server page)."""
        return self.offset < len(self.page.items) or self.page.next is not None


class PlainPages(Generic[T]):
    """The server's pages as they are: a cursor is a page's URL."""

    def __init__(self, http: HttpClient, item_type: Any, timeout: float | None) -> None:
        self._http = http
        self._decode = http.page_decoder(item_type)
        self._timeout = timeout

    async def read(self, url: str) -> Page[T]:
        """Return the page at ``url``."""
        answer = await self._http.call("GET", url, timeout=self._timeout)
        envelope = decode_page(self._decode, answer)
        return Page(
            envelope.data,
            source=self,
            next_cursor=envelope.links.next,
            prev_cursor=envelope.links.prev,
        )

    async def older(self, cursor: object) -> Page[T]:
        """Return the page at ``cursor`` (a URL)."""
        return await self.read(str(cursor))

    newer = older


class HistoryReader(Generic[T]):
    """The pages of one history call through a :class:`FeedView`, refilled to ``page_size``.

    Each page holds :class:`Position` cursors; :meth:`older` and :meth:`newer` read from them.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        item_type: Any,
        page_size: int,
        view: FeedView,
        timeout: float | None,
    ) -> None:
        self._http = http
        self._decode = http.page_decoder(item_type)
        self._size = page_size
        self._view = view
        self._timeout = timeout

    async def _read(self, url: str) -> ServerPage[T]:
        answer = await self._http.call("GET", url, timeout=self._timeout)
        envelope = decode_page(self._decode, answer)
        view = self._view
        items = tuple(view.shown(item) for item in envelope.data if view.keeps(item))
        return ServerPage(items, envelope.links.prev, envelope.links.next)

    async def first(self, url: str) -> Page[T]:
        """Return the newest page, reading from ``url`` (the route's first page)."""
        newest = await self._read(url)
        page = await self.older(Position(newest, 0))
        page.prev_cursor = None  # the first server page is the newest: nothing is newer
        return page

    async def older(self, cursor: object) -> Page[T]:
        """Return up to ``page_size`` items older than ``cursor``, newest first."""
        assert isinstance(cursor, Position)
        taken: list[T] = []
        page: ServerPage[T] = cursor.page
        index = cursor.offset
        start: Position[T] | None = None
        rounds = 0
        while True:
            while index < len(page.items) and len(taken) < self._size:
                if start is None:
                    start = Position(page, index)
                taken.append(page.items[index])
                index += 1
            if len(taken) >= self._size or page.next is None or rounds >= MAX_ROUNDS:
                break
            page, index = await self._read(page.next), 0
            rounds += 1
        end = Position(page, index)
        if start is None:  # nothing kept: an empty page; back is where this one began
            prev = cursor if cursor.has_newer else None
        else:
            prev = start if start.has_newer else None
        return Page(
            taken,
            source=self,
            next_cursor=end if end.has_older else None,
            prev_cursor=prev,
        )

    async def newer(self, cursor: object) -> Page[T]:
        """Return up to ``page_size`` items newer than ``cursor``, newest first."""
        assert isinstance(cursor, Position)
        taken: deque[T] = deque()
        page: ServerPage[T] = cursor.page
        index = cursor.offset
        end: Position[T] | None = None
        rounds = 0
        while True:
            while index > 0 and len(taken) < self._size:
                index -= 1
                if end is None:
                    end = Position(page, index + 1)
                taken.appendleft(page.items[index])
            if len(taken) >= self._size or page.prev is None or rounds >= MAX_ROUNDS:
                break
            page = await self._read(page.prev)
            index = len(page.items)
            rounds += 1
        start = Position(page, index)
        if end is None:  # nothing kept: an empty page; forward is where this one began
            end = cursor
        return Page(
            list(taken),
            source=self,
            next_cursor=end if end.has_older else None,
            prev_cursor=start if start.has_newer else None,
        )


async def fetch_newer(
    http: HttpClient,
    url: str,
    *,
    item_type: Any,
    after: tuple[float, str] | None,
    view: FeedView,
    timeout: float | None = None,
) -> list[Any]:
    """Return the messages of ``view`` newer than ``after`` (``(ts, id)``), oldest first.

    Reads pages from ``url`` (the newest) until it reaches ``after`` or the end, at most
    :data:`MAX_ROUNDS` pages. ``after=None`` (the history was empty) means every message.
    """
    decode = http.page_decoder(item_type)
    found: list[Any] = []
    next_url: str | None = url
    rounds = 0
    while next_url is not None and rounds < MAX_ROUNDS:
        envelope = decode_page(decode, await http.call("GET", next_url, timeout=timeout))
        rounds += 1
        for item in envelope.data:
            if after is not None and message_position(item) <= after:
                next_url = None
                break
            if view.keeps(item):
                found.append(item)
        else:
            next_url = envelope.links.next
    if rounds >= MAX_ROUNDS:  # pragma: no cover - a very long outage
        logger.warning("backfill stopped after %d pages", rounds)
    found.reverse()
    return found
