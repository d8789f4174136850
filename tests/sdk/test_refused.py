"""A token the server stops accepting ends the session for good, against the real server.

When a reconnect is refused with ``TOKEN_ERROR`` (the token expired, or the server's signing secret
changed), the client stops reconnecting, moves to ``FAILED`` (seen by ``on_state_change`` and
``states()``), logs one warning without the token, ends every live stream by raising
``AuthenticationError`` and refuses every later ``subscribe``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fabric_chat import AsyncClient, AuthenticationError, ConversationChatMessage
from fabric_chat._protocol import TOKEN_ERROR
from fabric_chat_runtime import ConnectionState, ReconnectPolicy, RetryPolicy
from fabric_chat_server.testing import LocalServer

from .conftest import Inbox, eventually

RETRY = RetryPolicy(max_attempts=3, base=0.01, cap=0.05)


class CountingSleep:
    """A reconnect sleep that counts its calls and waits only a little."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, delay: float) -> None:
        self.calls += 1
        await asyncio.sleep(0.01)


@dataclass
class Session:
    """Bob's client with a callback subscription and a stream on Alice's conversation."""

    bob: AsyncClient
    alice: AsyncClient
    alice_address: str
    bob_address: str
    called: Inbox
    streamed: Inbox
    states: list[ConnectionState]
    iterated: list[ConnectionState]
    sleeps: CountingSleep


@asynccontextmanager
async def _session(server: LocalServer, bob_token: str) -> AsyncIterator[Session]:
    alice_token = await server.token("alice", display_name="Alice")
    alice_address = await server.address_of("alice")
    bob_address = await server.address_of("bob")
    sleeps = CountingSleep()
    reconnect = ReconnectPolicy(base=0.01, cap=0.05, sleep=sleeps)
    async with (
        AsyncClient(token=alice_token, retry=RETRY) as alice,
        AsyncClient(token=bob_token, retry=RETRY, reconnect=reconnect) as bob,
    ):
        session = Session(bob, alice, alice_address, bob_address, Inbox(), Inbox(), [], [], sleeps)
        bob.on_state_change(session.states.append)
        yield session


async def _exercise(
    s: Session, fault: Callable[[], Awaitable[None]], caplog: pytest.LogCaptureFixture
) -> None:
    """Receive one message on both feeds, apply ``fault``, and check how the session ends."""
    subscription = await s.bob.chat.subscribe(
        address_id=s.alice_address, on_message=s.called.append
    )
    stream_error: list[BaseException] = []

    async def follow_states() -> None:
        async for state in s.bob.states():
            s.iterated.append(state)

    async def consume() -> None:
        try:
            async with s.bob.chat.stream(address_id=s.alice_address) as messages:
                ready.set()
                async for message in messages:
                    s.streamed.append(message)
        except AuthenticationError as exc:
            stream_error.append(exc)

    ready = asyncio.Event()
    async with asyncio.timeout(20), asyncio.TaskGroup() as group:
        follower = group.create_task(follow_states())
        group.create_task(consume())
        await ready.wait()
        await s.alice.chat.send_message(address_id=s.bob_address, text="before")
        await s.called.wait(1)
        await s.streamed.wait(1)
        assert s.bob.state is ConnectionState.CONNECTED
        await fault()
        await eventually(lambda: s.bob.state is ConnectionState.FAILED, within=15)
        await eventually(lambda: bool(stream_error))
        # The session is over: no more reconnect attempts.
        attempts = s.sleeps.calls
        await asyncio.sleep(0.2)
        assert s.sleeps.calls == attempts
        # Every later subscribe, and every later stream, is refused at once.
        with pytest.raises(AuthenticationError) as later:
            await s.bob.chat.subscribe(address_id=s.alice_address, on_message=print)
        with pytest.raises(AuthenticationError):
            async with s.bob.chat.stream(address_id=s.alice_address):
                raise AssertionError("a refused stream opened")  # pragma: no cover
        await s.bob.aclose()
        await follower
    # The live stream ended by raising AuthenticationError, after what it had delivered.
    (error,) = stream_error
    assert isinstance(error, AuthenticationError)
    assert error.status == 401
    assert error.code == str(TOKEN_ERROR)
    assert later.value.code == str(TOKEN_ERROR)
    assert [m.text for m in s.called] == ["before"]
    assert [m.text for m in s.streamed] == ["before"]
    assert all(isinstance(m, ConversationChatMessage) for m in s.called)
    assert not subscription.active
    assert isinstance(subscription.error, AuthenticationError)
    # Observable both ways, and terminal: only CLOSED follows FAILED.
    assert s.states[-2:] == [ConnectionState.FAILED, ConnectionState.CLOSED]
    assert s.states.count(ConnectionState.FAILED) == 1
    assert s.iterated[-2:] == [ConnectionState.FAILED, ConnectionState.CLOSED]
    assert ConnectionState.RECONNECTING in s.states
    # One warning from the SDK, and the token nowhere.
    warnings = [
        r
        for r in caplog.records
        if r.name.startswith("fabric_chat.") and r.levelno >= logging.WARNING
    ]
    refusals = [r.getMessage() for r in warnings if "refused the token" in r.getMessage()]
    assert refusals == [
        f"the server refused the token ({TOKEN_ERROR}); the socket will not reconnect"
    ]
    # Any other warning is a reconnect that found the server down (during a restart).
    assert all(r.getMessage() == "socket failed: APIConnectionError" for r in warnings[:-1])
    assert warnings[-1].getMessage() == refusals[0]


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


async def test_a_changed_signing_secret_ends_the_session(
    caplog: pytest.LogCaptureFixture, store_options: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalServer(jwt_secret="first-secret-" + "x" * 32, **store_options) as server:
        bob_token = await server.token("bob", display_name="Bob")

        async def rotate() -> None:
            server.config.jwt_secret = "second-secret-" + "y" * 32
            await server.restart()

        async with _session(server, bob_token) as session:
            await _exercise(session, rotate, caplog)
    assert bob_token not in caplog.text
    assert bob_token.split(".")[2] not in caplog.text


async def test_an_expired_token_ends_the_session(
    caplog: pytest.LogCaptureFixture, store_options: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    async with LocalServer(token_ttl=3, **store_options) as server:
        bob_token = await server.token("bob", display_name="Bob")
        expires_at = _claims(bob_token)["exp"]
        assert isinstance(expires_at, int)

        async def expire() -> None:
            # Wait (at most ~3 s) until the token has expired, then cut the socket: the
            # reconnect presents the expired token.
            await asyncio.sleep(max(0.0, expires_at - time.time() + 0.05))
            await server.drop_sockets()

        async with _session(server, bob_token) as session:
            await _exercise(session, expire, caplog)
        # The HTTP routes refuse the expired token as well, with a typed error.
        async with AsyncClient(token=bob_token, retry=RETRY) as again:
            with pytest.raises(AuthenticationError) as caught:
                await again.chat.get_messages(address_id=session.alice_address)
        assert caught.value.status == 401
        assert caught.value.code
        assert caught.value.message
    assert bob_token not in caplog.text
