"""The sync ``Client``: the seed's examples without ``await``, in a plain test and in a loop.

It is generated from the same IR as ``AsyncClient`` and runs each call on its own loop thread,
so it works in a script, across many calls, and where a loop already runs (Jupyter). The
server is the real one (``ThreadedServer``), on its own thread.
"""

from __future__ import annotations

import asyncio
import inspect
import queue
import threading
from collections.abc import Iterator

import fabric_chat
import pytest
from fabric_chat import (
    AsyncClient,
    ChatNamespace,
    Client,
    ClientClosedError,
    ConversationChatMessage,
    ConversationMessage,
    ConversationNamespace,
    InvalidArgumentError,
    JoinConversationResponse,
    SyncMessageStream,
    SyncPage,
    SyncSubscription,
)
from fabric_chat_server.testing import ThreadedServer

WAIT = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer() as running:
        yield running


def _seed_examples(server: ThreadedServer, tag: str) -> None:
    """get, subscribe + cancel, send and join, as the seed page shows them, without await."""
    alice_token = server.token(f"alice-{tag}", display_name="Alice")
    bob_token = server.token(f"bob-{tag}", display_name="Bob")
    with Client(token=alice_token) as alice, Client(token=bob_token) as bob:
        alice_address = alice.get_subscriber_info().fabric_addresses[0].id
        bob_address = bob.get_subscriber_info().fabric_addresses[0].id

        joined = alice.chat.join(address_id=bob_address)  # join
        assert isinstance(joined, JoinConversationResponse)
        assert alice.chat.join(address_id=bob_address).group_id == joined.group_id

        inbox: queue.Queue[tuple[str, str]] = queue.Queue()
        threads: set[str] = set()

        def on_message(message: ConversationChatMessage) -> None:
            threads.add(threading.current_thread().name)
            inbox.put((message.text or "", message.conversation_id or ""))

        subscription = bob.chat.subscribe(address_id=alice_address, on_message=on_message)
        assert isinstance(subscription, SyncSubscription)
        assert subscription.active
        texts = [f"hello {i}" for i in range(12)]
        for text in texts:  # send, many calls on one client
            conversation = alice.chat.send_message(address_id=bob_address, text=text)
            assert conversation.group_id == joined.group_id
            assert conversation.last_message is not None
            assert conversation.last_message.text == text
        got = [inbox.get(timeout=WAIT) for _ in texts]
        assert got == [(text, alice_address) for text in texts]
        # The callback ran on the client's own callback thread, not the caller's or the loop's.
        assert threading.current_thread().name not in threads
        assert len(threads) == 1
        assert not next(iter(threads)).endswith("-loop")

        subscription.cancel()  # cancel: nothing fires after it returns
        subscription.cancel()  # idempotent
        assert not subscription.active
        alice.chat.send_message(address_id=bob_address, text="after cancel")
        # A second subscriber proves the message went out; the cancelled one stays silent.
        with bob.chat.stream(address_id=alice_address) as messages:
            assert isinstance(messages, SyncMessageStream)
            alice.chat.send_message(address_id=bob_address, text="streamed")
            # "after cancel" may still be on its way when the stream opens: the feed is live.
            streamed: list[str | None] = []
            for message in messages:  # bounded: at most the two messages sent
                streamed.append(message.text)
                if message.text == "streamed" or len(streamed) == 2:
                    break
            assert streamed[-1] == "streamed"
            assert set(streamed) <= {"after cancel", "streamed"}
        # Both went over bob's one socket, in order: the cancelled callback saw neither.
        assert inbox.empty()

        page = bob.chat.get_messages(address_id=alice_address, page_size=5)  # get
        assert isinstance(page, SyncPage)
        newest_first = ["streamed", "after cancel", *reversed(texts)]
        assert [m.text for m in page.data] == newest_first[:5]
        assert page.has_next
        assert not page.has_prev
        older = page.next_page()
        assert older is not None
        assert [m.text for m in older.data] == newest_first[5:10]
        newer = older.prev_page()
        assert newer is not None
        assert [m.text for m in newer.data] == newest_first[:5]
        assert [m.text for m in page] == newest_first  # for ... in page walks every page
        walked = bob.chat.iter_messages(address_id=alice_address, page_size=4)
        assert [m.text for m in walked] == newest_first
        everything = bob.conversation.get_messages(page_size=100)
        assert all(isinstance(m, ConversationMessage) for m in everything.data)
        assert {m.text for m in everything.data} >= set(newest_first)


def test_the_seed_examples_in_a_plain_test(server: ThreadedServer) -> None:
    _seed_examples(server, "plain")


async def test_the_seed_examples_inside_a_running_event_loop(server: ThreadedServer) -> None:
    # As in Jupyter: this thread runs a loop; the sync client never touches it.
    asyncio.get_running_loop()
    _seed_examples(server, "loop")


def test_a_callback_may_call_the_client_and_an_async_callback_runs_too(
    server: ThreadedServer,
) -> None:
    alice_token = server.token("alice-echo", display_name="Alice")
    bot_token = server.token("echo-bot", display_name="Bot")
    with Client(token=alice_token) as alice, Client(token=bot_token) as bot:
        alice_address = alice.get_subscriber_info().fabric_addresses[0].id
        bot_address = bot.get_subscriber_info().fabric_addresses[0].id
        replies: queue.Queue[str] = queue.Queue()

        def echo(message: ConversationChatMessage) -> None:
            if message.user_name == "Alice":  # the bot replies from its callback
                bot.chat.send_message(address_id=alice_address, text=f"echo: {message.text}")

        async def collect(message: ConversationChatMessage) -> None:
            await asyncio.sleep(0)
            replies.put(message.text or "")

        bot_subscription = bot.chat.subscribe(address_id=alice_address, on_message=echo)
        alice_subscription = alice.chat.subscribe(address_id=bot_address, on_message=collect)
        alice.chat.send_message(address_id=bot_address, text="ping")
        seen = {replies.get(timeout=WAIT), replies.get(timeout=WAIT)}
        assert seen == {"ping", "echo: ping"}
        bot_subscription.cancel()
        alice_subscription.cancel()


def test_options_close_and_bad_arguments(server: ThreadedServer) -> None:
    token = server.token("carol", display_name="Carol")
    client = Client(token=token)
    assert repr(client).startswith("Client(base_url=")
    derived = client.with_options(timeout=5, max_retries=0)
    assert derived.get_subscriber_info().display_name == "Carol"
    derived.close()  # a derived client owns nothing
    assert client.get_subscriber_info().display_name == "Carol"
    with pytest.raises(InvalidArgumentError, match="address_id must not be empty"):
        client.chat.get_messages(address_id="")
    with pytest.raises(InvalidArgumentError):
        client.with_options(max_retries=-1)
    client.close()
    client.close()  # idempotent
    with pytest.raises(ClientClosedError):
        client.get_subscriber_info()
    with pytest.raises(InvalidArgumentError):
        Client(token="")
    with pytest.raises(InvalidArgumentError, match="base_url must be a URL starting with http"):
        Client(token=token, base_url="ftp://x")
    with pytest.raises(InvalidArgumentError, match="ws_url must be a URL starting with ws://"):
        AsyncClient(token=token, ws_url="ftp://x")


def test_the_sync_client_is_generated_from_the_same_methods_as_the_async_one() -> None:
    assert Client.__name__ == "Client"
    assert AsyncClient.__name__ == "AsyncClient"
    pairs = [
        (ChatNamespace, fabric_chat.AsyncChatNamespace),
        (ConversationNamespace, fabric_chat.AsyncConversationNamespace),
        (Client, AsyncClient),
    ]
    for sync_cls, async_cls in pairs:
        public = {n for n in vars(async_cls) if not n.startswith("_")}
        assert public == {n for n in vars(sync_cls) if not n.startswith("_")}, sync_cls
        for name in public:
            sync_method, async_method = getattr(sync_cls, name), getattr(async_cls, name)
            assert not inspect.iscoroutinefunction(sync_method), name
            sync_params = inspect.signature(sync_method).parameters
            assert list(sync_params) == list(inspect.signature(async_method).parameters), name
            assert "await " not in (sync_method.__doc__ or ""), name
    sync_init = inspect.signature(Client.__init__).parameters
    assert list(sync_init) == list(inspect.signature(AsyncClient.__init__).parameters)
