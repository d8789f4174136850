"""A two-terminal chat: type a line to send it; the other side's messages appear as they arrive.

Usage, after minting a token for each side (``fabric-chat token alice`` / ``bob``)::

    # terminal 1                                   # terminal 2
    FABRIC_CHAT_TOKEN=$ALICE \\                      FABRIC_CHAT_TOKEN=$BOB \\
      python examples/chat.py $BOB_ADDRESS            python examples/chat.py $ALICE_ADDRESS

It first prints the last few messages (``--history N``), then sends each line read from stdin
and prints each message from the peer as ``[Name] text``. It ends on end of input (Ctrl-D) or
Ctrl-C. The token comes from ``--token`` or ``FABRIC_CHAT_TOKEN``; the server URL from
``--server`` or ``FABRIC_CHAT_URL``, or else from the token itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator

from fabric_chat import AsyncClient, ConversationChatMessage, FabricChatError

__all__ = ["chat", "main", "parse_args", "stdin_lines"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (token and server URL default to the environment)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the address id to chat with")
    parser.add_argument("--history", type=int, default=5, help="past messages to show first")
    parser.add_argument("--server", default=os.environ.get("FABRIC_CHAT_URL"), help="HTTP URL")
    parser.add_argument("--token", default=os.environ.get("FABRIC_CHAT_TOKEN"), help="the SAT")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set FABRIC_CHAT_TOKEN")
    return args


async def stdin_lines() -> AsyncIterator[str]:
    """Yield the lines typed (or piped) on stdin without blocking the event loop."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    was_blocking = os.get_blocking(fd)
    reader = asyncio.StreamReader()
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
        )
    except ValueError:  # a regular file: read it in a thread
        for line in (await asyncio.to_thread(sys.stdin.read)).splitlines():
            yield line
        return
    try:
        while line_bytes := await reader.readline():
            yield line_bytes.decode(errors="replace").rstrip("\r\n")
    finally:
        transport.close()
        os.set_blocking(fd, was_blocking)  # leave the terminal as we found it


async def chat(args: argparse.Namespace) -> int:
    """Chat with ``args.address`` until end of input or Ctrl-C."""
    async with AsyncClient(token=args.token, base_url=args.server) as client:
        me = await client.get_subscriber_info()
        if args.history > 0:
            page = await client.chat.get_messages(address_id=args.address, page_size=args.history)
            for old in reversed(page.data):
                print(f"  ({old.user_name}) {old.text}")

        def show(message: ConversationChatMessage) -> None:
            if message.user_id != me.id:
                print(f"[{message.user_name}] {message.text}", flush=True)

        subscription = await client.chat.subscribe(address_id=args.address, on_message=show)
        print(
            f"chatting as {me.display_name}: type a line and press Enter (Ctrl-D to quit)",
            file=sys.stderr,
            flush=True,
        )

        async def send_lines() -> None:
            async for line in stdin_lines():
                if line.strip():
                    await client.chat.send_message(address_id=args.address, text=line)

        sender = asyncio.create_task(send_lines())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sender.cancel)
        try:
            await sender
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we were cancelled ourselves, not just the sender by Ctrl-C
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            subscription.cancel()
    print("bye", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the chat; return the exit status."""
    args = parse_args(argv)
    try:
        return asyncio.run(chat(args))
    except FabricChatError as exc:
        print(f"chat: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
