"""Any operation of the spec becomes an SDK method by editing the spec alone.

The issue's two methods (``get_address``, ``list_addresses``) are added, word for word, to a
copy of ``spec/chat.yaml``: on the client, in an existing namespace and in a new one. The copy
is generated with no hand edit, its package passes ``mypy --strict`` (in the one shared run of
``test_generated_packages``), and its methods work against the real local server.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fabric_chat_runtime.errors import InvalidArgumentError, NotFoundError
from fabric_chat_server.testing import LocalServer

from .spec_packages import load_package

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sdk(issue_package: Path) -> ModuleType:
    """The generated copy of the SDK, imported as it was written."""
    return load_package("fabric_chat_issue_11", issue_package)


def test_the_methods_are_typed_and_documented(sdk: ModuleType, issue_package: Path) -> None:
    client = sdk.AsyncClient
    assert client.get_address.__annotations__["return"] == "Address"
    assert client.list_addresses.__annotations__["return"] == "Page[Address]"
    namespace = sdk.DirectoryNamespace
    assert namespace.get_address.__doc__.startswith("Return one address of the directory.")
    assert "page_size: Addresses per page." in namespace.list_addresses.__doc__
    reference = (issue_package.parents[1] / "docs" / "reference" / "chat.md").read_text()
    for heading in (
        "### client.get_address",
        "### client.list_addresses",
        "### conversation.get_address",
        "### directory.get_address",
        "### directory.list_addresses",
    ):
        assert heading in reference
    assert "async def get_address(*, address_id: str, timeout: float | None = None) -> Address" in (
        reference
    )


async def test_the_methods_work_against_the_real_server(sdk: ModuleType, tmp_path: Path) -> None:
    async with LocalServer(db_path=tmp_path / "chat.db") as server:
        token = await server.token("alice")
        rooms = [await server.create_room(f"room-{n}") for n in range(3)]
        async with sdk.AsyncClient(token=token, base_url=server.base_url) as client:
            for owner in (client, client.conversation, client.directory):
                address: Any = await owner.get_address(address_id=rooms[0])
                assert isinstance(address, sdk.Address)
                assert (address.id, address.name) == (rooms[0], "room-0")
                page: Any = await owner.list_addresses(page_size=2)
                assert len(page.data) == 2
                assert all(isinstance(item, sdk.Address) for item in page.data)
                assert page.has_next
                seen = [item.id async for item in page.iter_all()]
                assert set(rooms) <= set(seen)
                with pytest.raises(InvalidArgumentError, match="address_id"):
                    await owner.get_address(address_id="")
                with pytest.raises(InvalidArgumentError, match="page_size"):
                    await owner.list_addresses(page_size=0)
                with pytest.raises(NotFoundError):
                    await owner.get_address(address_id="no-such-address")
