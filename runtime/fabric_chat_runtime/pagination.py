"""Pages of results and how to walk them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Page", "iter_pages"]

T = TypeVar("T")

PageFetch = Callable[[], Awaitable["Page[T] | None"]]


class Page(Generic[T]):
    """One page of results, newest first.

    ``data`` holds the items; ``has_next`` / ``has_prev`` say whether an older / newer page
    exists; :meth:`next_page` and :meth:`prev_page` fetch it, and return ``None`` only when
    there is none. A promised page can be empty (a chat view whose remaining server pages hold
    no chat item); it says where the walk goes on, if anywhere.
    Iterating a page yields its items; ``async for`` over :meth:`iter_all` walks every page
    from this one on.
    """

    data: list[T]

    def __init__(
        self,
        data: list[T],
        *,
        next_fetch: PageFetch[T] | None = None,
        prev_fetch: PageFetch[T] | None = None,
    ) -> None:
        """Build a page; the engine supplies how its neighbours are fetched.

        Args:
            data: The items, newest first.
            next_fetch: Fetches the older page; ``None`` when there is none.
            prev_fetch: Fetches the newer page; ``None`` when there is none.
        """
        self.data = data
        self._next_fetch = next_fetch
        self._prev_fetch = prev_fetch

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
        """Whether the server says an older page exists."""
        return self._next_fetch is not None

    @property
    def has_prev(self) -> bool:
        """Whether the server says a newer page exists."""
        return self._prev_fetch is not None

    async def next_page(self) -> Page[T] | None:
        """Fetch the older page, or return ``None`` when there is none."""
        if self._next_fetch is None:
            return None
        return await self._next_fetch()

    async def prev_page(self) -> Page[T] | None:
        """Fetch the newer page, or return ``None`` when there is none."""
        if self._prev_fetch is None:
            return None
        return await self._prev_fetch()

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
