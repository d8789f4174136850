"""``fabric-chat serve --db``: a SQLite file (path or sqlite URL) or a PostgreSQL URL."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from fabric_chat_cli.serve import _database


@pytest.mark.parametrize(
    ("given", "path", "url"),
    [
        ("chat.db", Path("chat.db"), None),
        ("/var/lib/chat.db", Path("/var/lib/chat.db"), None),
        ("sqlite:///chat.db", Path("chat.db"), None),
        ("sqlite:////var/lib/chat.db", Path("/var/lib/chat.db"), None),
        (
            "postgresql://chat@db.internal:5432/chat",
            None,
            "postgresql://chat@db.internal:5432/chat",
        ),
        ("postgres://chat@127.0.0.1/chat", None, "postgres://chat@127.0.0.1/chat"),
    ],
)
def test_db_names_a_sqlite_file_or_a_postgresql_database(
    given: str, path: Path | None, url: str | None
) -> None:
    chosen_path, chosen_url = _database(given)
    assert chosen_url == url
    if path is not None:
        assert chosen_path == path


@pytest.mark.parametrize("given", ["mysql://root:hunter2@db/chat", "sqlite://", ""])
def test_another_database_is_a_usage_error_that_repeats_no_credentials(given: str) -> None:
    with pytest.raises(click.UsageError) as caught:
        _database(given)
    assert "hunter2" not in str(caught.value)
