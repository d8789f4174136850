"""History: chat-only views refilled from short server pages, surplus carried, links followed."""

from __future__ import annotations

import fabric_chat
import pytest
from fabric_chat_runtime import errors
from fabric_chat_runtime.pagination import MAX_ROUNDS, Page, iter_pages

from .conftest import PEER, Canned, ChatMessage, Client, Conversation, FakeServer, Message


def seed(server: FakeServer, pattern: str) -> list[str]:
    """Store one message per letter (c = chat, l = log), oldest first; return chat texts."""
    texts = []
    for n, kind in enumerate(pattern):
        subtype = "chat" if kind == "c" else "log"
        server.add(f"m{n}", subtype=subtype)
        if subtype == "chat":
            texts.append(f"m{n}")
    return texts


def texts(
    page: Page[ChatMessage] | Page[fabric_chat.ConversationChatMessage] | None,
) -> list[str | None]:
    assert page is not None
    return [m.text for m in page.data]


async def test_chat_view_refills_short_pages_and_carries_surplus(
    server: FakeServer, client: Client
) -> None:
    chats = seed(server, "cclcllllccclcc")  # 8 chat items among 14
    newest_first = chats[::-1]
    engine = client.engine
    page = await engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=3, chat_only=True
    )
    assert texts(page) == newest_first[:3]
    assert (page.has_next, page.has_prev) == (True, False)
    assert all(m.subtype == "chat" for m in page.data)
    assert all(m.conversation_id == PEER for m in page.data)
    assert await page.prev_page() is None
    before = server.count("GET", "/api/fabric/conversations/addr-bob")
    second = await page.next_page()
    assert texts(second) == newest_first[3:6]
    assert second is not None
    assert second.has_prev
    third = await second.next_page()
    assert texts(third) == newest_first[6:]
    assert third is not None
    assert not third.has_next
    assert await third.next_page() is None
    # Carried items mean fewer requests than one per server page each time.
    assert server.count("GET", "/api/fabric/conversations/addr-bob") - before <= 4
    back = await third.prev_page()
    assert texts(back) == newest_first[3:6]
    again = await back.prev_page() if back is not None else None
    assert texts(again) == newest_first[:3]


async def test_prev_page_from_a_server_prev_link(server: FakeServer, client: Client) -> None:
    chats = seed(server, "clcclc" * 4)
    newest_first = chats[::-1]
    engine = client.engine
    page = await engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=4, chat_only=True
    )
    pages = [page]
    while (following := await pages[-1].next_page()) is not None:
        pages.append(following)
    assert [m for p in pages for m in texts(p)] == newest_first
    # Walk back from the last page: each prev page is the page before it.
    current: Page[ChatMessage] | None = pages[-1]
    seen = []
    while current is not None:
        seen.append(texts(current))
        current = await current.prev_page()
    assert [m for p in reversed(seen) for m in p] == newest_first


async def test_default_view_keeps_logs_and_follows_links(
    server: FakeServer, client: Client
) -> None:
    seed(server, "clcl")
    page = await client.engine.conversation_history(
        PEER, item_type=Message, page_size=3, chat_only=False
    )
    assert [m.subtype for m in page.data] == ["log", "chat", "log"]
    assert page.data[0].conversation_id == "as-seen-by-server"
    older = await page.next_page()
    assert older is not None
    assert [m.text for m in older.data] == ["m0"]
    assert older.has_prev
    assert not older.has_next
    newer = await older.prev_page()
    assert newer is not None
    assert [m.text for m in newer.data] == ["m3", "m2", "m1"]
    everything = await client.engine.conversation_history(
        None, item_type=Message, page_size=10, chat_only=False
    )
    assert len(everything) == 4
    assert repr(everything) == "Page(items=4, has_next=False, has_prev=False)"


async def test_empty_history_and_logs_only(server: FakeServer, client: Client) -> None:
    page = await client.engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=5, chat_only=True
    )
    assert page.data == []
    assert not page.has_next
    assert not page.has_prev
    seed(server, "llll")
    page = await client.engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=2, chat_only=True
    )
    assert page.data == []


async def test_iter_history_walks_every_page(server: FakeServer, client: Client) -> None:
    chats = seed(server, "cl" * 12)
    got = [
        m.text
        async for m in iter_pages(
            lambda: client.engine.conversation_history(
                PEER, item_type=ChatMessage, page_size=5, chat_only=True
            )
        )
    ]
    assert got == chats[::-1]
    assert (
        next(
            iter(
                await client.engine.conversation_history(
                    PEER, item_type=ChatMessage, page_size=2, chat_only=True
                )
            )
        ).text
        == chats[-1]
    )


async def test_generic_pages(server: FakeServer, client: Client) -> None:
    page = await client.engine.page("listConversations", item_type=Conversation, page_size=5)
    assert [c.name for c in page.data] == ["Bob"]
    with pytest.raises(errors.UnprocessableEntityError) as caught:
        await client.engine.page("listConversations", item_type=Conversation, page_size=5000)
    assert caught.value.attribute == "page_size"


async def test_request_and_protocol_errors(server: FakeServer, client: Client) -> None:
    from .conftest import Joined

    joined = await client.engine.request(
        "joinConversation",
        result_type=Joined,
        body={"from_fabric_address_id": "addr-alice", "fabric_address_ids": [PEER, "addr-alice"]},
        query={"x": 1},
    )
    assert joined.group_id == "group-bob"
    with pytest.raises(errors.ProtocolError):
        await client.engine.request("getSubscriberInfo", result_type=Joined)


async def test_a_promised_next_page_is_an_empty_last_page_when_only_logs_remain(
    server: FakeServer,
) -> None:
    """``has_next`` promised a page: when the older server pages hold only logs it is empty and
    last, so the usual ``while page.has_next`` loop ends instead of meeting ``None``."""
    seed(server, "lllcc")  # newest first: c c | l l | l
    async with fabric_chat.AsyncClient(token=server.token) as client:
        page = await client.chat.get_messages(address_id=PEER, page_size=2)
        assert texts(page) == ["m4", "m3"]
        assert page.has_next
        seen = list(texts(page))
        while page.has_next:
            following = await page.next_page()
            assert following is not None
            page = following
            seen += texts(page)
        assert seen == ["m4", "m3"]
        assert (page.data, page.has_next) == ([], False)
        assert await page.next_page() is None
        # The empty page still leads back to the page before it.
        assert page.has_prev
        assert texts(await page.prev_page()) == ["m4", "m3"]


async def test_a_promised_prev_page_is_an_empty_first_page_when_only_logs_remain(
    server: FakeServer,
) -> None:
    seed(server, "cc")
    async with fabric_chat.AsyncClient(token=server.token) as client:
        page = await client.chat.get_messages(address_id=PEER, page_size=1)
        older = await page.next_page()
        assert texts(older) == ["m0"]
        assert older is not None
        assert older.has_prev
        # The newer message stops being a chat item (say it was turned into a log).
        server.messages[-1]["subtype"] = "log"
        newer = await older.prev_page()
        assert newer is not None
        assert (newer.data, newer.has_prev) == ([], False)
        assert await newer.prev_page() is None
        assert texts(await newer.next_page()) == ["m0"]


async def test_a_scan_cut_at_max_rounds_keeps_its_way_on(server: FakeServer) -> None:
    """More log pages in a row than one page may read: the page keeps working links, both ways,
    so ``iter_messages`` does not end early and ``prev_page`` gets back to the newest chat."""
    seed(server, "c" + "l" * (MAX_ROUNDS + 5) + "c")
    async with fabric_chat.AsyncClient(token=server.token) as client:
        got = [m.text async for m in client.chat.iter_messages(address_id=PEER, page_size=1)]
        assert got == [f"m{MAX_ROUNDS + 6}", "m0"]
        newest = await client.chat.get_messages(address_id=PEER, page_size=1)
        cut = await newest.next_page()
        assert cut is not None
        assert (cut.data, cut.has_next) == ([], True)
        oldest = await cut.next_page()
        assert texts(oldest) == ["m0"]
        assert oldest is not None
        back = await oldest.prev_page()
        assert back is not None
        assert (back.data, back.has_prev) == ([], True)
        assert texts(await back.prev_page()) == [f"m{MAX_ROUNDS + 6}"]


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"not": "a list"}},
        {"data": [{"no_id": 1}]},
        {"data": [], "links": ["not", "an", "object"]},
        ["not", "an", "envelope"],
    ],
)
async def test_a_malformed_page_is_a_protocol_error(server: FakeServer, body: object) -> None:
    history = "/api/fabric/conversations/addr-bob/messages"
    async with fabric_chat.AsyncClient(token=server.token) as client:
        server.fail(history, Canned(200, body))
        with pytest.raises(errors.ProtocolError, match="unexpected page"):
            await client.chat.get_messages(address_id=PEER)
        server.fail(history, Canned(200, body))
        with pytest.raises(errors.ProtocolError, match="unexpected page"):
            await client.conversation.get_conversation_messages(address_id=PEER)
        server.fail("/api/fabric/messages", Canned(200, body))
        with pytest.raises(errors.ProtocolError, match="unexpected page"):
            await client.conversation.get_messages()
        # A page of the next walk is checked the same way.
        seed(server, "cc")
        page = await client.chat.get_messages(address_id=PEER, page_size=1)
        server.fail(history, Canned(200, body))
        with pytest.raises(errors.ProtocolError):
            await page.next_page()


async def test_a_history_read_never_joins(server: FakeServer) -> None:
    """The route takes the address id and the server resolves it: nothing is created."""
    seed(server, "cc")
    async with fabric_chat.AsyncClient(token=server.token) as client:
        page = await client.chat.get_messages(address_id=PEER, page_size=1)
        assert texts(page) == ["m1"]
        assert texts(await page.next_page()) == ["m0"]
        assert [m.text async for m in client.chat.iter_messages(address_id=PEER)] == ["m1", "m0"]
        messages = await client.conversation.get_conversation_messages(address_id=PEER)
        assert len(messages.data) == 2
    assert server.joins == 0
    assert server.count("POST", "/api/fabric/conversations/join") == 0
    assert server.count("GET", f"/api/fabric/conversations/{PEER}/messages") >= 4


async def test_a_page_is_data_and_going_back_reads_no_page_twice(
    server: FakeServer, client: Client
) -> None:
    """Cursors, not closures: prev_page() reads only pages newer than the one it starts in."""
    chats = seed(server, "c" * 12)
    newest_first = chats[::-1]
    first = await client.engine.conversation_history(
        PEER, item_type=ChatMessage, page_size=3, chat_only=True
    )
    second = await first.next_page()
    assert second is not None
    assert (second.next_cursor is not None, second.prev_cursor is not None) == (True, True)
    path = "/api/fabric/conversations/addr-bob"
    before = server.count("GET", path)
    back = await second.prev_page()
    assert texts(back) == newest_first[:3]
    # The second page began a server page already held: one read, of the newer server page.
    assert server.count("GET", path) - before == 1
    again = await second.prev_page()  # the page keeps its cursor: the same answer again
    assert texts(again) == texts(back)
