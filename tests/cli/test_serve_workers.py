"""``fabric-chat serve --workers N``: refused on SQLite (one writer), with a clear usage error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_more_than_one_worker_on_sqlite_is_a_usage_error(tmp_path: Path) -> None:
    database = tmp_path / "chat.db"
    command = [sys.executable, "-m", "fabric_chat_cli", "serve", "--port", "0"]
    done = subprocess.run(
        [*command, "--db", str(database), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--workers above 1 needs --db postgresql://" in done.stderr
    assert done.stdout == ""
    assert not database.exists()  # refused before anything was opened
