"""HTTP: timeouts, retries (table of delays), Retry-After, error mapping, no token leaks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Any

import aiohttp
import fabric_chat
import pytest
from fabric_chat_runtime import errors
from fabric_chat_runtime.retry import RetryPolicy, parse_retry_after
from fabric_chat_runtime.transport import Transport

from .conftest import PEER, Canned, Client, Conversation, FakeServer, Joined, make_token


class Recorder:
    """An injected sleep that records its delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def policy(recorder: Recorder, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(sleep=recorder, random=lambda: 0.5, **kwargs)


def test_retry_delay_table() -> None:
    rp = RetryPolicy(base=0.25, cap=2.0, jitter=0.5, random=lambda: 0.5)
    assert [rp.delay(n) for n in range(6)] == [0.1875, 0.375, 0.75, 1.5, 1.5, 1.5]
    no_jitter = RetryPolicy(base=1.0, cap=10.0, jitter=0.0)
    assert [no_jitter.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 10.0]
    # Retry-After wins over a shorter backoff, and is capped.
    assert no_jitter.delay(0, retry_after=5.0) == 5.0
    assert no_jitter.delay(3, retry_after=0.5) == 8.0
    assert RetryPolicy(max_retry_after=3.0, jitter=0.0).delay(0, retry_after=100.0) == 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base": -1.0}, "base"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=message):
        RetryPolicy(**kwargs)


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    when = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after(when, now=lambda: 1445412480.0) == 10.0


async def test_retries_5xx_then_succeeds(server: FakeServer) -> None:
    sleeps = Recorder()
    server.fail("/api/fabric/conversations/join", Canned(503), Canned(500))
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        joined = await client.engine.join(PEER, result_type=Joined)
    assert joined.group_id == "group-bob"
    assert sleeps.delays == [0.1875, 0.375]
    assert server.count("POST", "/api/fabric/conversations/join") == 3


async def test_429_honours_retry_after(server: FakeServer) -> None:
    sleeps = Recorder()
    server.fail("/api/fabric/subscriber", Canned(429, headers={"Retry-After": "2"}))
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        assert await client.engine.my_address() == "addr-alice"
    assert sleeps.delays == [2.0]


async def test_gives_up_after_max_attempts(server: FakeServer) -> None:
    sleeps = Recorder()
    body = {"errors": [{"type": "x", "code": "busy", "message": "try later"}]}
    server.fail("/api/fabric/subscriber", *[Canned(429, body) for _ in range(3)])
    async with Client(token=server.token, retry=policy(sleeps, max_attempts=3)) as client:
        with pytest.raises(errors.RateLimitError) as caught:
            await client.engine.my_address()
    assert caught.value.status == 429
    assert caught.value.code == "busy"
    assert caught.value.retry_after is None
    assert sleeps.delays == [0.1875, 0.375]
    assert server.count("GET", "/api/fabric/subscriber") == 3


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (413, errors.PayloadTooLargeError),
        (422, errors.UnprocessableEntityError),
        (418, errors.APIStatusError),
    ],
)
async def test_4xx_maps_to_errors_and_is_never_retried(
    server: FakeServer, status: int, cls: type[errors.APIError]
) -> None:
    sleeps = Recorder()
    body = {"errors": [{"type": "t", "code": "c1", "message": "nope", "attribute": "address_id"}]}
    server.fail("/api/fabric/conversations/join", Canned(status, body))
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        with pytest.raises(cls) as caught:
            await client.engine.join(PEER, result_type=Joined)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.attribute) == (
        status,
        "c1",
        "nope",
        "address_id",
    )
    assert str(error) == f"{status} c1: nope (address_id)"
    assert repr(error) == f"{cls.__name__}(status={status}, code='c1', message='nope')"
    assert sleeps.delays == []
    assert server.count("POST", "/api/fabric/conversations/join") == 1


async def test_server_error_without_body(server: FakeServer) -> None:
    server.fail("/api/fabric/subscriber", *[Canned(502, "not json") for _ in range(4)])
    async with Client(token=server.token, retry=policy(Recorder())) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.engine.my_address()
    assert caught.value.status == 502
    assert caught.value.message == "HTTP 502"


async def test_connection_errors_are_retried_and_bounded() -> None:
    sleeps = Recorder()
    token = make_token("ws://127.0.0.1:9")
    async with Client(token=token, retry=policy(sleeps, max_attempts=3)) as client:
        with pytest.raises(errors.ConnectionError) as caught:
            await client.engine.my_address()
    assert isinstance(caught.value, ConnectionError)
    assert sleeps.delays == [0.1875, 0.375]
    assert token not in str(caught.value)


async def test_dropped_connection_then_success(server: FakeServer) -> None:
    sleeps = Recorder()
    server.fail("/api/fabric/conversations/join", Canned(0))
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        joined = await client.engine.join(PEER, result_type=Joined)
    assert joined.group_id == "group-bob"
    assert sleeps.delays == [0.1875]
    assert server.count("POST", "/api/fabric/conversations/join") == 2


async def test_timeout_per_client_and_per_call(server: FakeServer) -> None:
    server.fail("/api/fabric/subscriber", Canned(200, {}, delay=1.0), Canned(200, {}, delay=1.0))
    once = RetryPolicy(max_attempts=1)
    async with Client(token=server.token, timeout=0.05, retry=once) as client:
        with pytest.raises(errors.TimeoutError) as caught:
            await client.engine.my_address()
        assert isinstance(caught.value, TimeoutError)
        assert "0.05s" in str(caught.value)
        with pytest.raises(errors.TimeoutError, match=r"0\.02s"):
            await client.engine.join(PEER, result_type=Joined, timeout=0.02)


async def test_a_timed_out_read_is_retried_and_a_timed_out_join_is_not(
    server: FakeServer,
) -> None:
    sleeps = Recorder()
    server.fail("/api/fabric/subscriber", Canned(200, {}, delay=1.0))
    async with Client(token=server.token, timeout=0.05, retry=policy(sleeps)) as client:
        assert await client.engine.my_address()  # GET: timed out once, retried, answered
        assert sleeps.delays == [0.1875]
        server.fail("/api/fabric/conversations/join", Canned(200, {}, delay=1.0))
        with pytest.raises(errors.APITimeoutError):
            await client.engine.join(PEER, result_type=Joined)  # POST, no key: not repeated
        assert sleeps.delays == [0.1875]


async def test_send_is_idempotent_across_retries(server: FakeServer) -> None:
    sleeps = Recorder()
    server.lose_sends = 1  # the first attempt is stored but its answer is lost
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        conversation = await client.engine.send_message(
            PEER, text="once", metadata={"k": 1}, details={}, result_type=Conversation
        )
        again = await client.engine.send_message(
            PEER, text="twice", metadata=None, details=None, result_type=Conversation
        )
    first, retry, other = server.send_keys
    assert first == retry != other
    assert len(first) == 36
    assert [m["text"] for m in server.messages] == ["once", "twice"]
    assert sleeps.delays == [0.1875]
    assert conversation.id == conversation.group_id == "group-bob"
    assert conversation.address_id == PEER
    assert conversation.name == "Bob"
    assert conversation.from_fabric_address_id == "addr-alice"
    assert conversation.last_message is not None
    assert conversation.last_message.text == "once"
    assert conversation.last_message.metadata == {"k": 1}
    assert conversation.last_message_at == conversation.last_message.ts
    assert again.last_message is not None
    assert again.last_message.text == "twice"


async def test_no_token_in_reprs_errors_or_logs(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.fail("/api/fabric/subscriber", Canned(503), Canned(401))
    client = Client(token=server.token, retry=policy(Recorder()))
    async with client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.engine.my_address()
        seen = [repr(client), str(client), repr(client.engine), repr(client.engine.live.socket)]
        seen += [str(caught.value), repr(caught.value)]
    seen += [record.getMessage() for record in caplog.records]
    assert all(server.token not in text for text in seen)
    assert "base_url='http://127.0.0.1:" in repr(client)
    assert any("retry 1" in record.getMessage() for record in caplog.records)


async def test_connection_error_says_why_and_never_holds_the_token() -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = make_token(f"ws://127.0.0.1:{port}")
    retry = RetryPolicy(max_attempts=1)
    async with Client(token=token, base_url=f"http://127.0.0.1:{port}", retry=retry) as client:
        with pytest.raises(errors.ConnectionError) as caught:
            await client.engine.my_address()
    message = str(caught.value)
    assert "connection refused" in message.lower()
    assert f"127.0.0.1:{port}/api/fabric/subscriber/info" in message
    assert token not in message
    assert token not in repr(caught.value)


async def test_retry_table_across_kinds_of_failure(server: FakeServer) -> None:
    """5xx, 429 with Retry-After, a dropped connection, 5xx, then success: the exact delays."""
    sleeps = Recorder()
    server.fail(
        "/api/fabric/conversations/join",
        Canned(503),
        Canned(429, headers={"Retry-After": "3"}),
        Canned(0),
        Canned(502),
    )
    async with Client(token=server.token, retry=policy(sleeps, max_attempts=5)) as client:
        joined = await client.engine.join(PEER, result_type=Joined)
    assert joined.group_id == "group-bob"
    # min(cap, 0.25 * 2**n) less 25 % (jitter 0.5 x random 0.5); Retry-After wins when longer.
    assert sleeps.delays == [0.1875, 3.0, 0.75, 1.5]
    assert server.count("POST", "/api/fabric/conversations/join") == 5


async def test_a_4xx_after_a_5xx_stops_the_retries(server: FakeServer) -> None:
    sleeps = Recorder()
    server.fail("/api/fabric/conversations/join", Canned(500), Canned(404), Canned(500))
    async with Client(token=server.token, retry=policy(sleeps)) as client:
        with pytest.raises(errors.NotFoundError):
            await client.engine.join(PEER, result_type=Joined)
    assert sleeps.delays == [0.1875]
    assert server.count("POST", "/api/fabric/conversations/join") == 2


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "5", True])
async def test_a_bad_per_call_timeout_is_refused_before_any_request(
    server: FakeServer, bad: Any
) -> None:
    async with fabric_chat.AsyncClient(token=server.token) as client:
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: client.chat.get_messages(address_id=PEER, timeout=bad),
            lambda: client.chat.send_message(address_id=PEER, text="hi", timeout=bad),
            lambda: client.chat.join(address_id=PEER, timeout=bad),
            lambda: client.conversation.get_conversations(timeout=bad),
            lambda: client.get_subscriber_info(timeout=bad),
        ]
        for call in calls:
            with pytest.raises(errors.InvalidArgumentError, match="timeout"):
                await call()
    assert server.requests == []


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), 0])
def test_a_bad_client_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="timeout"):
        fabric_chat.AsyncClient(token=make_token("ws://127.0.0.1:9"), timeout=timeout)


@pytest.mark.parametrize("name", ["metadata", "details"])
@pytest.mark.parametrize(
    "value",
    [{"k": object()}, {"k": {"nested": {1, object()}}}, {"k": MappingProxyType({"a": 1})}],
)
async def test_a_mapping_that_does_not_encode_is_refused_before_the_join(
    server: FakeServer, name: str, value: dict[str, Any]
) -> None:
    async with fabric_chat.AsyncClient(token=server.token) as client:
        with pytest.raises(errors.InvalidArgumentError, match=f"{name} must encode as JSON"):
            await client.chat.send_message(address_id=PEER, text="hi", **{name: value})
        with pytest.raises(errors.InvalidArgumentError, match=name):
            await client.conversation.send_message(address_id=PEER, text="hi", **{name: value})
    assert server.requests == []  # no join, no send
    assert server.messages == []


async def test_a_mapping_value_that_encodes_is_sent(server: FakeServer) -> None:
    metadata = {"tags": ("a", "b"), "n": 1, "none": None}
    async with fabric_chat.AsyncClient(token=server.token) as client:
        await client.chat.send_message(
            address_id=PEER, text="hi", metadata=MappingProxyType(metadata)
        )
    assert server.messages[0]["metadata"] == {"tags": ["a", "b"], "n": 1, "none": None}


async def test_a_request_racing_aclose_is_a_client_closed_error(server: FakeServer) -> None:
    transport = Transport(user_agent="test")
    answer = await transport.request("GET", server.url + "/api/fabric/conversations", timeout=5)
    assert answer.status == 401  # no token: any answer will do
    closing = asyncio.create_task(transport.aclose())
    await asyncio.sleep(0)  # aclose() has started closing the session, and not finished
    with pytest.raises(errors.ClientClosedError):
        await transport.request("GET", server.url + "/api/fabric/conversations", timeout=5)
    await closing
    with pytest.raises(errors.ClientClosedError):
        await transport.ws_connect(server.url.replace("http", "ws"), timeout=5)


async def test_a_session_closed_by_its_owner_is_a_client_closed_error(server: FakeServer) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    async with fabric_chat.AsyncClient(token=server.token, session=session) as client:
        with pytest.raises(errors.ClientClosedError) as caught:
            await client.chat.get_messages(address_id=PEER)
        assert isinstance(caught.value.__cause__, RuntimeError)
        with pytest.raises(errors.ClientClosedError):
            await client.chat.subscribe(address_id=PEER, on_message=print)
    with pytest.raises(errors.ClientClosedError) as refused:
        await Transport(session=session, user_agent="test").ws_connect(
            server.url.replace("http", "ws"), timeout=5
        )
    assert isinstance(refused.value.__cause__, RuntimeError)
    assert server.requests == []
