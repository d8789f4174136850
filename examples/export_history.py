"""Export the chat history with one address to JSON Lines, one message per line, newest first.

Usage::

    python examples/export_history.py ADDRESS > history.jsonl
    python examples/export_history.py ADDRESS --output history.jsonl --page-size 100

Walks every page with ``client.chat.iter_messages``, fetching the next page only when the
previous one is written. The token comes from ``--token`` or ``FABRIC_CHAT_TOKEN``; the server
URL from ``--server`` or ``FABRIC_CHAT_URL``, or else from the token itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TextIO

import msgspec
from fabric_chat import AsyncClient, FabricChatError

__all__ = ["export", "main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (token and server URL default to the environment)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the address id whose conversation to export")
    parser.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    parser.add_argument("--page-size", type=int, default=100, help="messages per request")
    parser.add_argument("--server", default=os.environ.get("FABRIC_CHAT_URL"), help="HTTP URL")
    parser.add_argument("--token", default=os.environ.get("FABRIC_CHAT_TOKEN"), help="the SAT")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set FABRIC_CHAT_TOKEN")
    return args


async def export(args: argparse.Namespace, out: TextIO) -> int:
    """Write every chat message with ``args.address`` to ``out``; return how many."""
    count = 0
    async with AsyncClient(token=args.token, base_url=args.server) as client:
        messages = client.chat.iter_messages(address_id=args.address, page_size=args.page_size)
        async for message in messages:
            out.write(msgspec.json.encode(message).decode() + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Run the export; return the exit status."""
    args = parse_args(argv)
    try:
        if args.output == "-":
            count = asyncio.run(export(args, sys.stdout))
        else:
            with open(args.output, "w", encoding="utf-8") as out:
                count = asyncio.run(export(args, out))
    except FabricChatError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(f"exported {count} message(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
