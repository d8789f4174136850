"""Smaller behaviours: malformed answers, closed clients, page edges, cancel callbacks."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import fabric_chat
import pytest
from fabric_chat.lib.chat import ChatView
from fabric_chat_runtime import errors
from fabric_chat_runtime._tasks import TaskOwner
from fabric_chat_runtime.contract import Param, Route
from fabric_chat_runtime.message_view import ALL_MESSAGES
from fabric_chat_runtime.pagination import Page
from fabric_chat_runtime.state import ConnectionState, StateWatch
from fabric_chat_runtime.validation import require_mapping, require_str

from .conftest import (
    PEER,
    Canned,
    ChatMessage,
    Client,
    Conversation,
    FakeServer,
    Inbox,
    Joined,
    eventually,
)


@pytest.mark.parametrize(
    ("prefix", "body", "call"),
    [
        ("/api/fabric/subscriber", {"fabric_addresses": "x"}, "me"),
        ("/api/fabric/subscriber", {"fabric_addresses": []}, "me"),
        ("/api/fabric/conversations/join", {"nope": 1}, "join"),
        ("/api/fabric/messages", [1], "send"),
        ("/api/fabric/messages", {"id": "m", "ts": "late"}, "send"),
    ],
)
async def test_malformed_answers_are_protocol_errors(
    server: FakeServer, client: Client, prefix: str, body: Any, call: str
) -> None:
    if call == "send":
        await client.engine.join(PEER, result_type=Joined)
    server.fail(prefix, Canned(201 if call == "send" else 200, body))
    calls = {
        "me": client.engine.my_address,
        "join": lambda: client.engine.join(PEER, result_type=Joined),
        "send": lambda: client.engine.send_message(
            PEER, text="x", metadata=None, details=None, result_type=Conversation
        ),
    }
    with pytest.raises(errors.ProtocolError):
        await calls[call]()


async def test_a_send_returns_the_conversation_built_from_the_join_and_the_message(
    server: FakeServer, client: Client
) -> None:
    """Built field by field from the real models: nothing invented by a naming rule."""
    conversation = await client.engine.send_message(
        PEER, text="x", metadata=None, details=None, result_type=fabric_chat.Conversation
    )
    assert isinstance(conversation, fabric_chat.Conversation)
    assert (conversation.id, conversation.group_id) == ("group-bob", "group-bob")
    assert conversation.address_id == PEER
    assert conversation.last_message_at == server.messages[-1]["ts"]
    assert conversation.last_message is not None
    assert conversation.last_message.text == "x"
    assert conversation.created_at == 0.0  # not known from a send: the model's default
    assert conversation.metadata == {}


async def test_subscribe_fails_cleanly_when_the_baseline_fails(
    server: FakeServer, client: Client
) -> None:
    await client.engine.join(PEER, result_type=Joined)
    got = Inbox()
    server.fail("/api/fabric/conversations/addr-bob", Canned(403, {}))
    with pytest.raises(errors.PermissionDeniedError):
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=got.append, address_id=PEER, chat_only=True
        )
    await server.publish(server.add("ignored"))
    await asyncio.sleep(0.05)
    assert got == []


async def test_undecodable_live_message_is_dropped(server: FakeServer, client: Client) -> None:
    got = Inbox()
    await client.engine.subscribe_conversation(
        item_type=ChatMessage, on_message=got.append, address_id=None, chat_only=False
    )
    bad = server.add("bad")
    bad["text"] = 5  # routable, but not a ChatMessage
    await server.publish(bad)
    await server.publish(server.add("good"))
    await got.wait(1)
    assert [m.text for m in got] == ["good"]


async def test_cancel_callbacks_and_closed_owner() -> None:
    from fabric_chat_runtime.retry import ReconnectPolicy
    from fabric_chat_runtime.subscriptions import Subscription

    async def backfill(after: Any) -> list[Any]:
        return []

    sub = Subscription(
        item_type=ChatMessage,
        on_message=print,
        view=ALL_MESSAGES,
        backfill=backfill,
        backoff=ReconnectPolicy(),
    )
    calls: list[str] = []
    sub.add_cancel_callback(lambda: calls.append("first"))
    sub.cancel()
    sub.fail(errors.AuthenticationError("refused", status=401))  # already over: no error kept
    assert sub.error is None
    sub.add_cancel_callback(lambda: calls.append("late"))
    assert calls == ["first", "late"]
    owner = TaskOwner()
    await owner.aclose()

    async def nothing() -> None:
        return None

    with pytest.raises(errors.ClientClosedError):
        await owner.spawn(nothing(), name="late")


async def test_a_failing_background_task_is_raised_not_swallowed() -> None:
    """A child's exception ends the group (its siblings are cancelled) and reaches the owner."""
    owner = TaskOwner()
    sibling_cancelled = asyncio.Event()

    async def sibling() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            sibling_cancelled.set()
            raise

    async def broken() -> None:
        raise RuntimeError("bug")

    await owner.spawn(sibling(), name="sibling")
    task = await owner.spawn(broken(), name="broken")
    await asyncio.wait([task])
    await eventually(lambda: owner.failure is not None)
    assert sibling_cancelled.is_set()

    async def later() -> None:
        return None

    with pytest.raises(RuntimeError, match="bug"):
        await owner.spawn(later(), name="later")  # the next call raises it
    await owner.aclose()  # raised once already: close is quiet


async def test_close_raises_a_background_failure_nobody_saw() -> None:
    owner = TaskOwner()

    async def broken() -> None:
        raise RuntimeError("unseen")

    await asyncio.wait([await owner.spawn(broken(), name="broken")])
    with pytest.raises(RuntimeError, match="unseen"):
        await owner.aclose()


async def test_state_watch_survives_a_failing_callback(caplog: pytest.LogCaptureFixture) -> None:
    watch = StateWatch()

    def broken(state: ConnectionState) -> None:
        raise RuntimeError("bug")

    watch.on_change(broken)
    watch.set(ConnectionState.CONNECTING)
    watch.set(ConnectionState.FAILED)
    watch.set(ConnectionState.RECONNECTING)  # failed is final, but for closing
    watch.set(ConnectionState.CONNECTED)
    assert watch.state is ConnectionState.FAILED
    watch.set(ConnectionState.CLOSED)
    watch.set(ConnectionState.CONNECTED)  # closed is final
    assert watch.state is ConnectionState.CLOSED
    assert "connection state callback failed" in caplog.text


async def test_backward_pages_walk_forward_again(server: FakeServer, client: Client) -> None:
    for n in range(12):
        server.add(f"m{n}", subtype="chat" if n % 4 else "log")
    engine = client.engine
    first = await engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=2, chat_only=True
    )
    pages = [first]
    while (following := await pages[-1].next_page()) is not None:
        pages.append(following)
    # A page built backward (from its own position) can walk forward again.
    back = await pages[-1].prev_page()
    assert back is not None
    back_again = await back.prev_page()
    assert back_again is not None
    forward = await back_again.next_page()
    assert forward is not None
    assert [m.text for m in forward.data] == [m.text for m in back.data]
    # A page keeps its cursors: asking again gives the same page.
    again = await back_again.next_page()
    assert again is not None
    assert [m.text for m in again.data] == [m.text for m in forward.data]
    assert again.has_next == forward.has_next


async def test_plain_pages_follow_links(server: FakeServer, client: Client) -> None:
    for n in range(5):
        server.add(f"m{n}")
    page = await client.engine.page("listMessages", item_type=ChatMessage, page_size=2)
    older = await page.next_page()
    assert older is not None
    assert [m.text for m in older.data] == ["m2", "m1"]
    texts = [m.text async for m in page.iter_all()]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    assert await Page([1]).prev_page() is None


def test_small_helpers() -> None:
    route = Route("op", "GET", "/a/{b}", "bearer", "s", params=(Param("b", "path", str),))
    assert route.param("b").location == "path"
    with pytest.raises(KeyError):
        route.param("c")
    with pytest.raises(errors.InvalidArgumentError, match="at most 3"):
        require_str("name", "abcd", max_length=3)
    with pytest.raises(errors.InvalidArgumentError, match="is required"):
        require_mapping("metadata", None, optional=False)
    assert repr(errors.FabricChatError("x")) == "FabricChatError('x')"


async def test_logging_never_carries_the_token(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.refuse_resume = True  # a fresh connect and a backfill log too
    async with Client(token=server.token) as client:
        got = Inbox()
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=got.append, address_id=PEER, chat_only=True
        )
        await server.drop_sockets()
        await server.publish(server.add("x"))
        await client.engine.send_message(
            PEER, text="y", metadata=None, details=None, result_type=Conversation
        )
        await got.wait(1)
    assert server.token not in caplog.text
    assert server.token.split(".")[2] not in caplog.text


async def test_a_resync_waits_for_the_baseline() -> None:
    from fabric_chat_runtime.retry import ReconnectPolicy
    from fabric_chat_runtime.subscriptions import Subscription

    asked: list[Any] = []
    got = Inbox()

    async def backfill(after: Any) -> list[Any]:
        asked.append(after)
        return [ChatMessage(id="new", ts=20.0, text="new")]

    sub = Subscription(
        item_type=ChatMessage,
        on_message=got.append,
        view=ChatView(chat_only=True, address_id=PEER),
        backfill=backfill,
        backoff=ReconnectPolicy(),
    )
    owner = TaskOwner()
    sub.attach(await owner.spawn(sub.run(), name="feed"))
    sub.resync()  # the socket reconnected before the baseline was known
    await asyncio.sleep(0.01)
    assert asked == []
    sub.set_baseline((10.0, "old"))
    await got.wait(1)
    assert asked == [(10.0, "old")]
    assert got[0].conversation_id == PEER
    # Later backfills re-read a little before the last delivered message (ts 20).
    assert sub.backfill_from() == (18.0, "")
    sub.resync()
    await eventually(lambda: len(asked) == 2)
    assert asked[1] == (18.0, "")
    assert len(got) == 1  # the re-read message was dropped by id
    sub.cancel()
    await owner.aclose()


async def test_subscribe_during_an_outage_times_out(server: FakeServer) -> None:
    from fabric_chat_runtime.retry import ReconnectPolicy

    hold = asyncio.Event()

    async def sleep(delay: float) -> None:
        await hold.wait()

    reconnect = ReconnectPolicy(base=0.01, cap=0.05, sleep=sleep)
    async with Client(token=server.token, reconnect=reconnect, connect_timeout=0.3) as client:
        await client.engine.subscribe_conversation(
            item_type=ChatMessage, on_message=print, address_id=PEER, chat_only=True
        )
        await server.drop_sockets()
        await eventually(lambda: client.state is ConnectionState.RECONNECTING)
        with pytest.raises(errors.TimeoutError, match="not connected"):
            await client.engine.subscribe_conversation(
                item_type=ChatMessage, on_message=print, address_id=PEER, chat_only=True
            )
        hold.set()
