"""Pages as data: the items and a cursor each way, and the sources that read them.

A :class:`Page` holds its items and two cursors; :meth:`Page.next_page` and
:meth:`Page.prev_page` hand a cursor to the page's source and read nothing else. There are two
sources, both over a function that reads one server page at a URL:

- :class:`PlainPages`: the server's pages as they are; a cursor is a page's URL.
- :class:`HistoryReader`: the pages of a :class:`~.message_view.FeedView`, refilled up to the
  page size from the next server pages. Its cursors are :class:`Position` values, each between
  two items of a server page already read (the page itself is kept, so going back never reads
  it again to find its place): the items before the position are newer, the ones from it on
  are older.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from .contract import PageEnvelope
from .message_view import FeedView

__all__ = [
    "MAX_ROUNDS",
    "HistoryReader",
    "Page",
    "PageSource",
    "PlainPages",
    "Position",
    "ReadPage",
    "ServerPage",
    "iter_pages",
]

T = TypeVar("T")

#: At most this many server pages are read to fill one page of a view.
MAX_ROUNDS = 200

ReadPage = Callable[[str], Awaitable[PageEnvelope]]
"""Reads and decodes the server page at a URL (``HttpClient.page_reader``)."""


class PageSource(Protocol[T]):
    """Reads the page that starts at a cursor (the history reader of one call)."""

    async def older(self, cursor: object) -> Page[T]:
        """Return the page of the items older than ``cursor``."""
        ...

    async def newer(self, cursor: object) -> Page[T]:
        """Return the page of the items newer than ``cursor``."""
        ...


class Page(Generic[T]):
    """One page of results, newest first.

    ``data`` holds the items; ``next_cursor`` / ``prev_cursor`` say where the older / newer page
    starts (``None``: there is none), as openai's page info and gapic's pagers keep the request
    state: :meth:`next_page` and :meth:`prev_page` hand the cursor to the page's source and read
    nothing else. A promised page can be empty (a chat view whose remaining server pages hold no
    chat item); it says where the walk goes on, if anywhere. Iterating a page yields its items;
    ``async for`` over :meth:`iter_all` walks every page from this one on.
    """

    data: list[T]

    def __init__(
        self,
        data: list[T],
        *,
        source: PageSource[T] | None = None,
        next_cursor: object | None = None,
        prev_cursor: object | None = None,
    ) -> None:
        """Build a page.

        Args:
            data: The items, newest first.
            source: Reads the neighbouring pages from the cursors.
            next_cursor: Where the older page starts; ``None`` when there is none.
            prev_cursor: Where the newer page starts; ``None`` when there is none.
        """
        self.data = data
        self._source = source
        self.next_cursor = next_cursor if source is not None else None
        self.prev_cursor = prev_cursor if source is not None else None

    def __repr__(self) -> str:
        return f"Page(items={len(self.data)}, has_next={self.has_next}, has_prev={self.has_prev})"

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for item in page`` walks this page and every older one (:meth:`iter_all`)."""
        return self.iter_all()

    @property
    def has_next(self) -> bool:
        """Whether an older page exists."""
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        """Whether a newer page exists."""
        return self.prev_cursor is not None

    async def next_page(self) -> Page[T] | None:
        """Fetch the older page, or return ``None`` when there is none."""
        if self._source is None or self.next_cursor is None:
            return None
        return await self._source.older(self.next_cursor)

    async def prev_page(self) -> Page[T] | None:
        """Fetch the newer page, or return ``None`` when there is none."""
        if self._source is None or self.prev_cursor is None:
            return None
        return await self._source.newer(self.prev_cursor)

    async def iter_all(self) -> AsyncIterator[T]:
        """Yield every item of this page and of each older page, newest first."""
        page: Page[T] | None = self
        while page is not None:
            for item in page.data:
                yield item
            page = await page.next_page()


async def iter_pages(first: Callable[[], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Yield every item of the page ``first()`` fetches and of each older page, newest first.

    Nothing is fetched until the first item is asked for; each page is fetched only when the
    previous one is used up. The generated ``iter_*`` twin of every paged method is this over
    that method's engine call.
    """
    page = await first()
    async for item in page.iter_all():
        yield item


class PlainPages(Generic[T]):
    """The server's pages as they are: a cursor is a page's URL."""

    def __init__(self, read: ReadPage) -> None:
        self._read = read

    async def first(self, url: str) -> Page[T]:
        """Return the page at ``url``."""
        envelope = await self._read(url)
        return Page(
            envelope.data,
            source=self,
            next_cursor=envelope.links.next,
            prev_cursor=envelope.links.prev,
        )

    async def older(self, cursor: object) -> Page[T]:
        """Return the page at ``cursor`` (a URL)."""
        return await self.first(str(cursor))

    newer = older


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


class HistoryReader(Generic[T]):
    """The pages of one history call through a :class:`FeedView`, refilled to ``page_size``.

    Each page holds :class:`Position` cursors; :meth:`older` and :meth:`newer` read from them.
    """

    def __init__(self, read: ReadPage, *, page_size: int, view: FeedView) -> None:
        self._read_envelope = read
        self._size = page_size
        self._view = view

    async def _read(self, url: str) -> ServerPage[T]:
        envelope = await self._read_envelope(url)
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
