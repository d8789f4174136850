"""``python -m fabric_chat_cli``."""

from __future__ import annotations

from ._launch import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
