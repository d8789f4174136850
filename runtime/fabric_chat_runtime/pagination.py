"""Pages of results and how to walk them."""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Page"]

T = TypeVar("T")


class Page(Generic[T]):
    """One page of results, newest first.

    ``data`` holds the items; ``has_next`` / ``has_prev`` say whether an older / newer page
    exists; :meth:`next_page` and :meth:`prev_page` fetch it, or return ``None``.
    """

    data: list[T]

    @property
    def has_next(self) -> bool:
        raise NotImplementedError

    @property
    def has_prev(self) -> bool:
        raise NotImplementedError

    async def next_page(self) -> Page[T] | None:
        raise NotImplementedError

    async def prev_page(self) -> Page[T] | None:
        raise NotImplementedError
