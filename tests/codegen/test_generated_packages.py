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
from fabric_chat import Address, Client, Page


async def use(client: Client) -> None:
    one: Address = await client.get_address(address_id="a1")
    many: Page[Address] = await client.list_addresses(page_size=5)
    same: Address = await client.directory.get_address(address_id="a1")
    pages: Page[Address] = await client.directory.list_addresses()
    print(one, many, same, pages)
"""


def test_generated_packages_pass_mypy_strict(issue_package: Path, tmp_path: Path) -> None:
    usage = tmp_path / "use_issue_methods.py"
    usage.write_text(ISSUE_USAGE, encoding="utf-8")
    done = mypy_strict([issue_package, usage], [issue_package.parent])
    assert done.returncode == 0, done.stdout + done.stderr
