"""The ``fabric-chat`` console script: a missing ``cli`` extra is one line, not a traceback."""

from __future__ import annotations

import sys

from fabric_chat_server._extras import MissingExtraError, require_extra

__all__ = ["main"]


def main() -> None:
    """Run the ``fabric-chat`` command, or say which extra to install (exit status 1)."""
    try:
        require_extra("cli", "the fabric-chat command")
    except MissingExtraError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    from .commands import main as cli_main

    cli_main()
