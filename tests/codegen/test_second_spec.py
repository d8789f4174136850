"""A second spec, of another domain, proves the generator: every construct, generated and used.

``tests/codegen/library/library.yaml`` (a lending library) uses every construct of the spec
format. Its generated package passes ruff here and ``mypy --strict`` in the shared run of
``test_generated_packages``; it is imported as written and each of its methods is called
against ``tests/codegen/library/server.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fabric_chat_runtime.errors import InvalidArgumentError, NotFoundError, UnprocessableEntityError

from .library.server import LibraryServer
from .spec_packages import ROOT, load_package

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def library(library_package: Path) -> ModuleType:
    """The generated library SDK, imported as it was written."""
    return load_package("library_sdk", library_package)


def test_the_package_passes_ruff(library_package: Path) -> None:
    """As the repository's own generated package: ``ruff check`` and ``ruff format --check``."""
    ruff = str(Path(sys.executable).with_name("ruff"))
    for path in sorted(library_package.glob("*.py")):
        name = f"generated/library_sdk/{path.name}"
        for args in (["check"], ["format", "--check"]):
            done = subprocess.run(
                [ruff, *args, "--stdin-filename", name, "-"],
                input=path.read_text(encoding="utf-8"),
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )
            assert done.returncode == 0, (name, args, done.stdout + done.stderr)


def test_every_construct_is_in_the_models(library: ModuleType, library_package: Path) -> None:
    fields = {name: hint for name, hint in library.Book.__annotations__.items()}
    assert fields["author"] == "Author"
    assert fields["cover"] == "Image | None"
    assert fields["tags"] == "list[str]"
    assert fields["ratings"] == "dict[str, int]"
    assert fields["extra"] == "dict[str, Any]"
    assert fields["price"] == "float | None"
    source = (library_package / "models.py").read_text(encoding="utf-8")
    assert 'Known values: "hardcover", "paperback", "ebook"' in source
    book = library.Book(id="b1")
    assert (book.author, book.cover, book.tags, book.ratings) == (library.Author(), None, [], {})


def test_the_reference_documents_every_namespace(library_package: Path) -> None:
    reference = (library_package.parents[1] / "docs" / "reference" / "library.md").read_text()
    for heading in ("### client.get_book", "### books.create_book", "### loans.lend"):
        assert heading in reference
    for heading in ("### notices.latest", "### notices.iter_notices", "### notices.subscribe"):
        assert heading in reference
    assert "from library_sdk import AsyncLibraryClient, LibraryClient" in reference


async def _first(queue: asyncio.Queue[Any]) -> Any:
    async with asyncio.timeout(10):
        return await queue.get()


async def test_every_method_against_the_library_server(library: ModuleType) -> None:
    async with LibraryServer() as server:
        client = library.AsyncLibraryClient(
            token=server.token, base_url=server.base_url, ws_url=server.ws_url
        )
        async with client:
            # Body and header parameters; an object return.
            cover = library.Image(url="https://example.org/c.png", width=120)
            book: Any = await client.books.create_book(
                title="The Dispossessed",
                author_id="a1",
                tags=["novel", "sf"],
                ratings={"ann": 5},
                cover=cover,
                format="paperback",
                idempotency_key="k-1",
            )
            assert isinstance(book, library.Book)
            assert (book.title, book.author.name, book.cover, book.ratings) == (
                "The Dispossessed", "Ursula K. Le Guin", cover, {"ann": 5},
            )  # fmt: skip
            assert server.headers_seen[-1]["Idempotency-Key"] == "k-1"
            again: Any = await client.books.create_book(
                title="The Dispossessed", author_id="a1", idempotency_key="k-1"
            )
            assert again.id == book.id
            other: Any = await client.books.create_book(title="Lathe", author_id="a1", tags=["sf"])
            plain: Any = await client.books.create_book(title="Essays", author_id="a1")
            assert "Idempotency-Key" not in server.headers_seen[-1]
            # Path parameter.
            assert await client.get_book(book_id=book.id) == book
            # Query parameters; a page return.
            page: Any = await client.books.list_books(page_size=1, tag="sf")
            assert isinstance(page, library.Page)
            assert [b.id for b in page.data] == [book.id]
            assert page.has_next
            following: Any = await page.next_page()
            assert [b.id for b in following.data] == [other.id]
            everything: Any = await client.books.list_books()
            assert [b.id for b in everything.data] == [book.id, other.id, plain.id]
            # Path and body parameters together.
            loan: Any = await client.loans.lend(book_id=book.id, reader="ann", days=7)
            assert isinstance(loan, library.Loan)
            assert (loan.book_id, loan.reader, loan.days) == (book.id, "ann", 7)
            # Engine returns: page, iterator, subscription, stream.
            latest: Any = await client.notices.latest(page_size=1)
            assert [n.book_id for n in latest.data] == [book.id]
            received: asyncio.Queue[Any] = asyncio.Queue()
            subscription: Any = await client.notices.subscribe(on_message=received.put_nowait)
            assert isinstance(subscription, library.Subscription)
            async with client.notices.stream() as notices:
                await client.loans.lend(book_id=other.id, reader="bo")
                notice = await _first(received)
                assert isinstance(notice, library.Notice)
                assert notice.book_id == other.id
                async with asyncio.timeout(10):
                    streamed = await anext(aiter(notices))
                assert streamed == notice
            subscription.cancel()
            walked = [n.id async for n in client.notices.iter_notices(page_size=1)]
            assert walked == [notice.id, latest.data[0].id]
            # Errors: checked arguments, then the server's statuses.
            with pytest.raises(InvalidArgumentError, match="title"):
                await client.books.create_book(title="", author_id="a1")
            with pytest.raises(InvalidArgumentError, match="tags"):
                await client.books.create_book(title="x", author_id="a1", tags=[1])
            with pytest.raises(InvalidArgumentError, match="cover"):
                await client.books.create_book(title="x", author_id="a1", cover={"url": "u"})
            with pytest.raises(InvalidArgumentError, match="days"):
                await client.loans.lend(book_id=book.id, reader="ann", days=61)
            with pytest.raises(NotFoundError):
                await client.get_book(book_id="b404")
            with pytest.raises(NotFoundError):
                await client.books.create_book(title="x", author_id="nobody")
            with pytest.raises(UnprocessableEntityError):
                await client.books.create_book(title="x" * 101, author_id="a1")
