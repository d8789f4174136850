"""An echo bot: replies ``echo: <text>`` to every message it gets in one conversation.

Usage::

    export FABRIC_CHAT_TOKEN=$(fabric-chat token echo-bot --display-name "Echo Bot")
    python examples/echo_bot.py ADDRESS              # until Ctrl-C
    python examples/echo_bot.py ADDRESS --max-messages 3

ADDRESS is the address id of whoever the bot talks to. The token comes from ``--token`` or
``FABRIC_CHAT_TOKEN``; the server URL from ``--server`` or ``FABRIC_CHAT_URL``, or else from the
token itself. The bot says ``echo bot ready`` on stderr once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from fabric_chat import AsyncClient, ConversationChatMessage, FabricChatError

__all__ = ["echo", "main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (token and server URL default to the environment)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("address", help="the address id to chat with")
    parser.add_argument("--server", default=os.environ.get("FABRIC_CHAT_URL"), help="HTTP URL")
    parser.add_argument("--token", default=os.environ.get("FABRIC_CHAT_TOKEN"), help="the SAT")
    parser.add_argument(
        "--max-messages", type=int, default=None, help="exit after replying N times"
    )
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set FABRIC_CHAT_TOKEN")
    return args


async def echo(args: argparse.Namespace) -> int:
    """Reply to every message from the peer until Ctrl-C or ``--max-messages`` replies."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    replies = 0
    async with AsyncClient(token=args.token, base_url=args.server) as client:
        me = (await client.get_subscriber_info()).id

        async def on_message(message: ConversationChatMessage) -> None:
            nonlocal replies
            if message.user_id == me or done.is_set():
                return  # our own replies come back on the same feed
            reply = f"echo: {message.text}"
            await client.chat.send_message(address_id=args.address, text=reply)
            replies += 1
            print(f"{message.user_name}: {message.text!r} -> {reply!r}", flush=True)
            if args.max_messages is not None and replies >= args.max_messages:
                done.set()

        subscription = await client.chat.subscribe(address_id=args.address, on_message=on_message)
        print("echo bot ready", file=sys.stderr, flush=True)
        await done.wait()
        subscription.cancel()
    print(f"replied to {replies} message(s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the bot; return the exit status."""
    args = parse_args(argv)
    try:
        return asyncio.run(echo(args))
    except FabricChatError as exc:
        print(f"echo bot: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
