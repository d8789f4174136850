"""Property: a chat view walked forward, then backward, is exactly the chat items, newest first."""

from __future__ import annotations

import asyncio

from fabric_chat_runtime.pagination import Page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PEER, ChatMessage, Client, FakeServer


async def _walk(pattern: list[bool], page_size: int) -> None:
    server = FakeServer()
    await server.start()
    try:
        for n, is_chat in enumerate(pattern):
            server.add(f"m{n}", subtype="chat" if is_chat else "log")
        expected = [f"m{n}" for n, is_chat in reversed(list(enumerate(pattern))) if is_chat]
        async with Client(token=server.token) as client:
            first = await client.engine.conversation_history(
                PEER, item_type=ChatMessage, page_size=page_size, chat_only=True
            )
            pages: list[Page[ChatMessage]] = [first]
            for _ in range(len(pattern) + 1):
                following = await pages[-1].next_page()
                if following is None:
                    break
                pages.append(following)
            forward = [m.text for page in pages for m in page.data]
            assert forward == expected
            assert all(len(page.data) == page_size for page in pages[:-1])
            # A page that promised a next page gets one: the last may be empty (only logs left).
            assert len(pages[-1].data) <= page_size
            assert not pages[-1].has_next
            assert not first.has_prev
            # Backward from the last page gives the same pages again.
            current: Page[ChatMessage] | None = pages[-1]
            backward: list[list[str | None]] = []
            for _ in range(len(pages) + 1):
                if current is None:
                    break
                backward.append([m.text for m in current.data])
                current = await current.prev_page()
            assert [t for page in reversed(backward) for t in page] == expected
    finally:
        await server.stop()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=st.lists(st.booleans(), min_size=0, max_size=40),
    page_size=st.integers(min_value=1, max_value=7),
)
def test_chat_views_walk_both_ways(pattern: list[bool], page_size: int) -> None:
    asyncio.run(_walk(pattern, page_size))
