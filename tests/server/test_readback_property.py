"""Every message the server accepts reads back, through every route and event, across a restart.

Hypothesis draws texts (control characters, astral planes, NUL, right-to-left marks) and
metadata / details anywhere within the spec's limits; whatever the server answers 201 to must
come back equal from ``GET /api/fabric/messages``, the conversation's history, the
``conversation.message`` event, and both routes again after a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import msgspec
import pytest
from fabric_chat._protocol import CONVERSATION_MESSAGE, SIGNALWIRE_CONNECT, SIGNALWIRE_EVENT
from fabric_chat.contract import LIMITS
from fabric_chat_server.testing import ThreadedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60
) | st.sampled_from(["\x1b[2J\x1b]0;owned\x07", "a\x00b", "\u202eevil", "line\nforged", "😀" * 10])


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


class Reader:
    def __init__(self, server: ThreadedServer) -> None:
        self.server = server
        self.alice = server.token("alice")
        self.bob = server.token("bob")
        self.bob_address = server.address_of("bob")
        self.sent: dict[str, dict[str, Any]] = {}

    async def _send_and_hear(self, body: dict[str, Any]) -> tuple[int, Any, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(self.server.ws_url + "/") as ws,
        ):
            await ws.send_json(
                {
                    "jsonrpc": "2.0",
                    "id": "c",
                    "method": SIGNALWIRE_CONNECT,
                    "params": {
                        "version": {"major": 4, "minor": 0, "revision": 0},
                        "authentication": {"jwt_token": self.bob},
                    },
                }
            )
            assert "result" in msgspec.json.decode((await ws.receive(timeout=5)).data)
            async with session.post(
                self.server.base_url + "/api/fabric/messages",
                json=body,
                headers={"Authorization": f"Bearer {self.alice}"},
            ) as response:
                status, answer = response.status, await response.json()
            event = None
            if status == 201:
                for _ in range(10):
                    frame = msgspec.json.decode((await ws.receive(timeout=5)).data)
                    if frame.get("method") == SIGNALWIRE_EVENT and (
                        frame["params"]["event_type"] == CONVERSATION_MESSAGE
                    ):
                        event = frame["params"]["params"]
                        break
            return status, answer, event

    async def _history(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = self.server.base_url + path + "?page_size=1000"
        async with aiohttp.ClientSession() as session:
            while url is not None:
                async with session.get(
                    url, headers={"Authorization": f"Bearer {self.bob}"}
                ) as response:
                    assert response.status == 200, await response.text()
                    page = await response.json()
                items.extend(page["data"])
                url = page["links"].get("next")
        return items

    def send(self, body: dict[str, Any]) -> None:
        status, answer, event = self.server.call(self._send_and_hear(body))
        assert status in (201, 413, 422), answer
        if status != 201:
            return
        assert event is not None
        for seen in (answer, event):
            _same(body, seen)
        self.sent[answer["id"]] = body

    def check_every_route(self) -> None:
        for path in (
            "/api/fabric/messages",
            f"/api/fabric/conversations/{self.server.address_of('alice')}/messages",
        ):
            found = {item["id"]: item for item in self.server.call(self._history(path))}
            for message_id, body in self.sent.items():
                _same(body, found[message_id])


def _same(body: dict[str, Any], seen: dict[str, Any]) -> None:
    assert seen["text"] == body["text"]
    assert seen["metadata"] == (body.get("metadata") or {})
    assert seen["details"] == (body.get("details") or {})


@pytest.fixture(scope="module")
def reader() -> Iterator[Reader]:
    # Request and connect rates are not what this tests: one socket per example.
    with ThreadedServer(rate_limit_per_second=0, connects_per_second=0) as server:
        yield Reader(server)
        assert server.server.state.stats.unexpected == 0


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    text=_TEXT,
    metadata=st.none() | st.dictionaries(st.text(max_size=8), _JSON, max_size=4),
    details=st.none() | st.dictionaries(st.text(max_size=8), _JSON, max_size=3),
)
def test_every_accepted_message_reads_back_on_every_route_and_event(
    reader: Reader, text: str, metadata: Any, details: Any
) -> None:
    reader.send(
        {
            "conversation_id": reader.bob_address,
            "text": text,
            "metadata": metadata,
            "details": details,
        }
    )


def test_the_accepted_messages_read_back_after_a_restart(reader: Reader) -> None:
    # The limits themselves are accepted and read back too.
    reader.send({"conversation_id": reader.bob_address, "text": "x" * LIMITS.text_bytes})
    reader.send(
        {
            "conversation_id": reader.bob_address,
            "text": "deep",
            "metadata": _deep(LIMITS.json_depth),
        }
    )
    reader.send({"conversation_id": reader.bob_address, "text": "big", "metadata": {"n": 2**80}})
    assert len(reader.sent) >= 3
    reader.check_every_route()
    reader.server.restart()
    reader.check_every_route()
