"""Packages generated from other specs pass ``mypy --strict``, in one shared run.

One mypy process checks every package the generator's tests produce, with a usage module per
package whose annotations pin what each method returns: mypy is the slow part, so it runs once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .spec_packages import mypy_strict

pytestmark = pytest.mark.timeout(300)

ISSUE_USAGE = """\
from fabric_chat import Address, AsyncClient, Page


async def use(client: AsyncClient) -> None:
    one: Address = await client.get_address(address_id="a1")
    many: Page[Address] = await client.list_addresses(page_size=5)
    same: Address = await client.directory.get_address(address_id="a1")
    pages: Page[Address] = await client.directory.list_addresses()
    inner: Address = await client.conversation.get_address(address_id="a1")
    print(one, many, same, pages, inner)
"""


LIBRARY_USAGE = """\
from collections.abc import AsyncIterator, Iterator

from library_sdk import (
    AsyncLibraryClient,
    Book,
    Image,
    LibraryClient,
    Loan,
    MessageStream,
    Notice,
    Page,
    Subscription,
    SyncMessageStream,
    SyncPage,
    SyncSubscription,
)


def use_sync(client: LibraryClient) -> None:
    book: Book = client.get_book(book_id="b1")
    books: SyncPage[Book] = client.books.list_books(tag="sf")
    loan: Loan = client.loans.lend(book_id="b1", reader="ann", days=3)
    walk: Iterator[Notice] = client.notices.iter_notices()
    feed: SyncSubscription = client.notices.subscribe(on_message=print)
    stream: SyncMessageStream[Notice] = client.notices.stream()
    for item in books:
        print(item.title)
    print(book, books, loan, walk, feed, stream)


async def use(client: AsyncLibraryClient) -> None:
    book: Book = await client.get_book(book_id="b1")
    made: Book = await client.books.create_book(
        title="t", author_id="a1", tags=["x"], cover=Image(url="u"), idempotency_key="k"
    )
    books: Page[Book] = await client.books.list_books(tag="sf")
    loan: Loan = await client.loans.lend(book_id="b1", reader="ann", days=3)
    latest: Page[Notice] = await client.notices.latest()
    walk: AsyncIterator[Notice] = client.notices.iter_notices()
    feed: Subscription = await client.notices.subscribe(on_message=print)
    stream: MessageStream[Notice] = client.notices.stream()
    print(book, made, books, loan, latest, walk, feed, stream)
"""


def test_generated_packages_pass_mypy_strict(
    issue_package: Path, library_package: Path, tmp_path: Path
) -> None:
    usages = []
    for name, text in (("use_issue_methods", ISSUE_USAGE), ("use_library", LIBRARY_USAGE)):
        usage = tmp_path / f"{name}.py"
        usage.write_text(text, encoding="utf-8")
        usages.append(usage)
    done = mypy_strict(
        [issue_package, library_package, *usages],
        [issue_package.parent, library_package.parent],
    )
    assert done.returncode == 0, done.stdout + done.stderr
