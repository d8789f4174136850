"""Two subscribers chat through the SDK against the embedded local server (``make demo``).

Starts the local chat server on 127.0.0.1 (a free port, a throwaway SQLite file), mints tokens
for alice and bob, and plays a short conversation with :class:`fabric_chat.AsyncClient`: who am I,
join, live subscriptions that print each message as it arrives, messages both ways, the history
walked with ``next_page()`` and back with ``prev_page()``, then ``cancel()``. Everything is
closed at the end; the whole run is bounded by a timeout, so it never hangs.

Run it with ``make demo`` (which installs what it needs into ``.venv``), or
``python examples/demo.py`` where ``fabric-chat[server]`` is installed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

try:
    from fabric_chat import AsyncClient, ConversationChatMessage, FabricChatError, Page
    from fabric_chat_server.testing import LocalServer
except ImportError as exc:  # pragma: no cover - only without an install
    sys.exit(f"{exc}: run `make demo`, which installs fabric-chat into .venv first")

__all__ = ["main", "run_demo"]

#: The whole demo must finish within this many seconds.
DEMO_TIMEOUT = 30.0
#: How many messages each history page holds.
PAGE_SIZE = 3

#: The conversation: (sender, text, metadata).
SCRIPT: tuple[tuple[str, str, dict[str, object] | None], ...] = (
    ("alice", "Hello Bob", None),
    ("bob", "Hi Alice! I see you live.", None),
    ("alice", "This chat goes through the Python SDK.", None),
    ("alice", "Messages can carry metadata too.", {"mood": "cheerful"}),
    ("bob", "And they all land in the history.", None),
    ("alice", "Let's page through it.", None),
    ("bob", "Three per page, newest first.", None),
    ("alice", "Bye for now!", None),
)


def section(title: str) -> None:
    """Print a section heading."""
    print(f"\n== {title}")


def short(identifier: str) -> str:
    """Return the first 8 characters of an id, for display."""
    return identifier[:8] + "..."


class Inbox:
    """One subscriber's live feed: prints each message from the peer as it arrives."""

    def __init__(self, owner: str, owner_id: str) -> None:
        self.owner = owner
        self.owner_id = owner_id
        self.arrived: dict[str, asyncio.Event] = {}
        self.count = 0

    def expect(self, text: str) -> asyncio.Event:
        """Return the event set when a message with ``text`` arrives."""
        return self.arrived.setdefault(text, asyncio.Event())

    def __call__(self, message: ConversationChatMessage) -> None:
        """The ``on_message`` callback."""
        if message.user_id == self.owner_id:
            return  # the subscriber's own message, echoed on its socket
        self.count += 1
        sender = (message.user_name or "?").lower()
        extra = f"  (metadata {message.metadata})" if message.metadata else ""
        print(f"  [{self.owner} <- {sender}] {message.text}{extra}")
        self.expect(message.text or "").set()


def describe_page(label: str, page: Page[ConversationChatMessage]) -> None:
    """Print one history page: its flags, then its messages."""
    flags = f"has_prev={page.has_prev}, has_next={page.has_next}"
    print(f"  {label}: {len(page)} messages ({flags})")
    for message in page:
        print(f"      {message.user_name}: {message.text}")


async def run_demo() -> None:
    """Play the whole demo; raise on any failure."""
    async with LocalServer() as server:
        section("1. Start the local server")
        print(f"  listening on {server.base_url} (throwaway SQLite file)")
        tokens = {
            "alice": await server.token("alice", display_name="Alice"),
            "bob": await server.token("bob", display_name="Bob"),
        }
        print("  minted subscriber tokens for alice and bob")

        # No base_url: the SDK reads the server's URL from the token's `ch` header.
        async with (
            AsyncClient(token=tokens["alice"]) as alice,
            AsyncClient(token=tokens["bob"]) as bob,
        ):
            clients = {"alice": alice, "bob": bob}

            section("2. Who am I (client.get_subscriber_info)")
            infos = {name: await client.get_subscriber_info() for name, client in clients.items()}
            address = {name: info.fabric_addresses[0].id for name, info in infos.items()}
            for name, info in infos.items():
                print(f"  {name}: {info.display_name}, address {short(address[name])}")

            section("3. Join (client.chat.join)")
            joined = await bob.chat.join(address_id=address["alice"])
            again = await bob.chat.join(address_id=address["alice"])
            members = len(joined.fabric_address_ids)
            print(f"  bob joined the conversation with alice: group {short(joined.group_id)}")
            print(f"  {members} members; joining again changes nothing: {again == joined}")

            section("4. Live subscriptions (client.chat.subscribe)")
            inboxes = {name: Inbox(name, info.id) for name, info in infos.items()}
            peer = {"alice": "bob", "bob": "alice"}
            subscriptions = {
                name: await clients[name].chat.subscribe(
                    address_id=address[peer[name]], on_message=inboxes[name]
                )
                for name in clients
            }
            print("  alice and bob each print every message from the other as it arrives")

            section("5. Chat (client.chat.send_message)")
            for sender, text, metadata in SCRIPT:
                receiver = peer[sender]
                arrived = inboxes[receiver].expect(text)
                print(f"[{sender} -> {receiver}] {text}")
                await clients[sender].chat.send_message(
                    address_id=address[receiver], text=text, metadata=metadata
                )
                await arrived.wait()

            section(f"6. History, {PAGE_SIZE} per page (get_messages, next_page, prev_page)")
            first = await bob.chat.get_messages(address_id=address["alice"], page_size=PAGE_SIZE)
            pages = [first]
            describe_page("page 1 (newest)", first)
            while (older := await pages[-1].next_page()) is not None:
                pages.append(older)
                describe_page(f"next_page() -> page {len(pages)}", older)
            print(f"  next_page() on page {len(pages)} -> None: the oldest page has no next")
            current: Page[ConversationChatMessage] | None = pages[-1]
            number = len(pages)
            while current is not None and (newer := await current.prev_page()) is not None:
                number -= 1
                newest = newer.data[0].text if newer.data else None
                print(f"  prev_page() -> page {number}: {len(newer)} messages, newest {newest!r}")
                current = newer
            total = sum(len(page) for page in pages)
            print(f"  {total} messages on {len(pages)} pages, walked forward and back")

            section("7. Cancel (subscription.cancel)")
            heard_before = inboxes["bob"].count
            for subscription in subscriptions.values():
                subscription.cancel()
            subscriptions["bob"].cancel()  # idempotent
            print("  both subscriptions cancelled; cancel() again is a no-op")
            async with bob.chat.stream(address_id=address["alice"]) as messages:
                await alice.chat.send_message(address_id=address["bob"], text="Still there?")
                async for message in messages:
                    if message.text == "Still there?":
                        break
            silent = inboxes["bob"].count == heard_before
            print("  alice sends 'Still there?': bob's stream() gets it,")
            print(f"  and the cancelled callback stays silent: {silent}")
            if not silent:
                raise RuntimeError("a cancelled subscription delivered a message")

        section("8. Close")
        print("  clients closed")
    print("  server stopped, temporary database removed")


def main(argv: list[str] | None = None, *, clock: Callable[[], float] = time.monotonic) -> int:
    """Run the demo within :data:`DEMO_TIMEOUT` seconds and return the exit status."""
    del argv
    started = clock()
    print("fabric-chat demo: two subscribers chat through the SDK, against a local server")

    async def bounded() -> None:
        async with asyncio.timeout(DEMO_TIMEOUT):
            await run_demo()

    try:
        asyncio.run(bounded())
    except FabricChatError as exc:
        print(f"\ndemo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"\ndemo failed: it did not finish within {DEMO_TIMEOUT:g} s", file=sys.stderr)
        return 1
    except (RuntimeError, OSError) as exc:
        print(f"\ndemo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"\ndone in {clock() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
