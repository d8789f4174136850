"""Pages of results as data: the items and a cursor each way, and how to walk them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, Protocol, TypeVar

__all__ = ["Page", "PageSource", "iter_pages"]

T = TypeVar("T")


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
