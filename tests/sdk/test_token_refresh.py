"""Token refresh: a subscription runs across several token expiries with nothing lost or doubled.

Tokens live 6 s here. Each client gets only a token provider (an async function that mints a
token, as your backend would); it fetches the first token, renews it before each expiry, HTTP
uses the new one and the socket swaps it in with signalwire.reauthenticate: the server never
has to cut the socket for an expired token, so the socket never reconnects.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fabric_chat import AsyncClient, ConnectionState, ConversationChatMessage
from fabric_chat_server.testing import LocalServer

TTL = 6.0
EXPIRIES = 3


@pytest.mark.slow
async def test_a_subscription_lives_across_three_expiries_with_no_gap(
    store_options: dict[str, Any],
) -> None:
    async with LocalServer(token_ttl=TTL, **store_options) as server:
        alice_address = await server.address_of("alice")
        bob_address = await server.address_of("bob")
        minted = {"alice": 0, "bob": 0}

        def provider(reference: str, name: str):  # type: ignore[no-untyped-def]
            async def mint() -> str:
                minted[reference] += 1
                return await server.token(reference, display_name=name)

            return mint

        urls = {"base_url": server.base_url, "ws_url": server.ws_url}
        inbox: asyncio.Queue[ConversationChatMessage] = asyncio.Queue()
        states: list[ConnectionState] = []
        sent: list[str] = []
        async with (
            AsyncClient(token_provider=provider("alice", "Alice"), **urls) as alice,
            AsyncClient(token_provider=provider("bob", "Bob"), **urls) as bob,
        ):
            bob.on_state_change(states.append)
            subscription = await bob.chat.subscribe(
                address_id=alice_address, on_message=inbox.put_nowait
            )
            started = time.monotonic()
            # Until bob's token was renewed three times (three expiries crossed), bounded.
            while minted["bob"] < 1 + EXPIRIES and time.monotonic() - started < 60:
                text = f"message {len(sent)}"
                await alice.chat.send_message(address_id=bob_address, text=text)
                sent.append(text)
                await asyncio.sleep(0.3)
            async with asyncio.timeout(20):
                received = [await inbox.get() for _ in sent]
            await asyncio.sleep(0.3)  # anything doubled would show up now
            assert inbox.empty()
            subscription.cancel()
            history = await bob.chat.get_messages(address_id=alice_address, page_size=100)
        assert minted["bob"] >= 1 + EXPIRIES
        assert time.monotonic() - started > EXPIRIES * (TTL * 2 / 3) - 1
        assert [m.text for m in received] == sent  # 0 lost, 0 duplicated, in order
        assert [m.text for m in reversed(history.data)] == sent  # HTTP with the renewed token
        assert ConnectionState.RECONNECTING not in states  # swapped in place, never cut
