"""Pagination of PROTOCOL §6: newest first, absolute keyset links, bounds, tamper-evident tokens."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fabric_chat_server.testing import LocalServer, ThreadedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import row_counts


async def _conversation(server: LocalServer, api: Any, count: int) -> tuple[str, str, list[str]]:
    alice = await server.token("alice")
    await server.token("bob")
    b_addr = await server.address_of("bob")
    ids = [(await api.send(alice, b_addr, f"m{i}"))["id"] for i in range(count)]
    return alice, b_addr, ids[::-1]


async def test_walk_next_then_prev(server: LocalServer, api: Any) -> None:
    alice, b_addr, newest_first = await _conversation(server, api, 7)
    status, page = await api.get(f"/api/fabric/conversations/{b_addr}/messages?page_size=3", alice)
    assert status == 200
    assert "prev" not in page["links"]
    assert page["links"]["self"].startswith(server.base_url)
    assert (
        page["links"]["first"]
        == f"{server.base_url}/api/fabric/conversations/{b_addr}/messages?page_size=3"
    )
    pages = [page]
    while "next" in pages[-1]["links"]:
        assert len(pages) < 10
        status, page = await api.get(pages[-1]["links"]["next"], alice)
        assert status == 200
        assert "prev" in page["links"]
        pages.append(page)
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert [m["id"] for p in pages for m in p["data"]] == newest_first
    status, back = await api.get(pages[-1]["links"]["prev"], alice)
    assert [m["id"] for m in back["data"]] == [m["id"] for m in pages[1]["data"]]
    status, front = await api.get(back["links"]["prev"], alice)
    assert [m["id"] for m in front["data"]] == newest_first[:3]
    assert "prev" not in front["links"]


async def test_default_page_size_is_10(server: LocalServer, api: Any) -> None:
    alice, _, _newest_first = await _conversation(server, api, 12)
    status, page = await api.get("/api/fabric/messages", alice)
    assert (status, len(page["data"])) == (200, 10)
    assert "page_size=10" in page["links"]["next"]


@pytest.mark.parametrize(
    "query",
    [
        "page_size=0",
        "page_size=1001",
        "page_size=abc",
        "page_size=-1",
        "page_size=1.5",
        "page_size=",
        "page_size=1_0",
        "page_size=%2B5",
        "page_size=%205",
        "page_size=5%20",
        "page_size=5%0A",
        "page_size=%D9%A5",  # ARABIC-INDIC DIGIT FIVE, which int() takes
        "page_size=" + "0" * 5000,
        "page_size=" + "9" * 5000,
        "page_token=",
    ],
)
async def test_page_params_out_of_range_are_422(server: LocalServer, api: Any, query: str) -> None:
    alice = await server.token("alice")
    b_addr = await server.address_of("bob")
    before = await row_counts(server)
    for path in (
        "/api/fabric/messages",
        "/api/fabric/conversations",
        "/api/fabric/addresses",
        f"/api/fabric/conversations/{b_addr}/messages",
    ):
        status, body = await api.get(f"{path}?{query}", alice)
        assert status == 422, (path, query)
        assert body["errors"][0]["attribute"] == query.partition("=")[0]
    assert await row_counts(server) == before


async def test_page_size_takes_plain_digits_with_leading_zeros(
    server: LocalServer, api: Any
) -> None:
    alice, b_addr, newest_first = await _conversation(server, api, 3)
    path = f"/api/fabric/conversations/{b_addr}/messages?page_size=0002"
    status, page = await api.get(path, alice)
    assert status == 200
    assert [m["id"] for m in page["data"]] == newest_first[:2]


async def test_forged_or_foreign_page_tokens_are_422(server: LocalServer, api: Any) -> None:
    alice, b_addr, _ = await _conversation(server, api, 3)
    _, page = await api.get(f"/api/fabric/conversations/{b_addr}/messages?page_size=1", alice)
    token = page["links"]["next"].split("page_token=")[1]
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    before = await row_counts(server)
    for bad in ("garbage", "%00%01", flipped, "A" * 400):
        status, body = await api.get(
            f"/api/fabric/conversations/{b_addr}/messages?page_token={bad}", alice
        )
        assert status == 422
        assert body["errors"][0]["attribute"] == "page_token"
    # A real token of another list is refused too.
    status, _ = await api.get(f"/api/fabric/messages?page_token={token}", alice)
    assert status == 422
    assert server.state.stats.unexpected == 0
    assert await row_counts(server) == before


async def test_links_never_follow_the_request_host(server: LocalServer, api: Any) -> None:
    # The caller chooses Host; links use the server's own origin (a link another client
    # follows must not lead to a host of the caller's choice).
    alice, _, _ = await _conversation(server, api, 2)
    status, page, _ = await api.call(
        "GET",
        "/api/fabric/messages?page_size=1",
        token=alice,
        headers={"Host": "chat.example:9999"},
    )
    assert status == 200
    assert page["links"]["next"].startswith(server.base_url + "/api/fabric/messages?")
    assert "chat.example" not in str(page["links"])


# --- property: walking while inserting neither skips nor repeats -------------------------------


def _http(method: str, url: str, token: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedServer]:
    with ThreadedServer(rate_limit_per_second=0) as server:
        yield server


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    initial=st.integers(min_value=0, max_value=12),
    page_size=st.integers(min_value=1, max_value=5),
    inserts=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),
)
def test_walking_while_inserting_neither_skips_nor_repeats(
    threaded: ThreadedServer, initial: int, page_size: int, inserts: list[int]
) -> None:
    tag = uuid.uuid4().hex[:8]
    alice = threaded.token(f"alice-{tag}")
    bob = threaded.address_of(f"bob-{tag}")
    base = threaded.base_url

    def send(text: str) -> str:
        return str(
            _http(
                "POST", f"{base}/api/fabric/messages", alice, {"conversation_id": bob, "text": text}
            )["id"]
        )

    existing = [send(f"old {i}") for i in range(initial)][::-1]
    url: str | None = f"{base}/api/fabric/conversations/{bob}/messages?page_size={page_size}"
    seen: list[str] = []
    added: list[str] = []
    pages: list[Any] = []
    for step in range(len(existing) + 2):
        assert url is not None
        page = _http("GET", url, alice)
        pages.append(page)
        seen.extend(m["id"] for m in page["data"])
        added.extend(send(f"new {step}.{i}") for i in range(inserts[step % len(inserts)]))
        url = page["links"].get("next")
        if url is None:
            break
    assert url is None
    assert seen == existing
    # From the last page read again, prev then next walk the whole list, old and new, once each.
    middle = _http("GET", pages[-1]["links"]["self"], alice)
    back: list[str] = []
    url = middle["links"].get("prev")
    for _ in range(len(existing) + len(added) + 2):
        if url is None:
            break
        page = _http("GET", url, alice)
        back = [m["id"] for m in page["data"]] + back
        url = page["links"].get("prev")
    forward: list[str] = []
    url = middle["links"].get("next")
    for _ in range(len(existing) + len(added) + 2):
        if url is None:
            break
        page = _http("GET", url, alice)
        forward += [m["id"] for m in page["data"]]
        url = page["links"].get("next")
    assert url is None
    assert back + [m["id"] for m in middle["data"]] + forward == added[::-1] + existing


async def test_conversation_and_address_lists_page_without_repeats(
    server: LocalServer, api: Any
) -> None:
    alice = await server.token("alice")
    peers = [await server.token(f"peer{i}") for i in range(4)]
    assert len(peers) == 4
    for i in range(4):
        await api.send(alice, await server.address_of(f"peer{i}"), "hi")
    for path, expected in (("/api/fabric/conversations", 4), ("/api/fabric/addresses", 5)):
        url: str | None = f"{path}?page_size=1"
        ids: list[str] = []
        for _ in range(expected + 1):
            if url is None:
                break
            status, page = await api.get(url, alice)
            assert status == 200
            ids += [item["id"] for item in page["data"]]
            url = page["links"].get("next")
        assert url is None
        assert len(ids) == len(set(ids)) == expected


async def test_conversation_walk_is_a_snapshot_while_conversations_move(
    server: LocalServer, api: Any
) -> None:
    alice = await server.token("alice")
    peers = []
    for i in range(5):
        await server.token(f"peer{i}")
        peers.append(await server.address_of(f"peer{i}"))
        await api.send(alice, peers[i], "hi")
    status, page = await api.get("/api/fabric/conversations?page_size=2", alice)
    assert status == 200
    seen = [c["address_id"] for c in page["data"]]
    assert seen == [peers[4], peers[3]]
    # New messages would move the oldest conversations to the top in the middle of the walk.
    await api.send(alice, peers[0], "moved")
    await api.send(alice, peers[1], "moved too")
    url: str | None = page["links"].get("next")
    for _ in range(5):
        if url is None:
            break
        status, page = await api.get(url, alice)
        assert status == 200
        seen += [c["address_id"] for c in page["data"]]
        url = page["links"].get("next")
    assert url is None
    assert seen == peers[::-1]  # each conversation once, in the order the walk began with
    # A fresh walk (the first link) shows the new order.
    status, fresh = await api.get(page["links"]["first"], alice)
    assert [c["address_id"] for c in fresh["data"]] == [peers[1], peers[0]]
    assert fresh["data"][0]["last_message_at"] > fresh["data"][1]["last_message_at"]
    # Walking back from the end of the old walk stays in its snapshot too.
    back: list[str] = []
    url = page["links"].get("prev")
    for _ in range(5):
        if url is None:
            break
        status, newer = await api.get(url, alice)
        back = [c["address_id"] for c in newer["data"]] + back
        url = newer["links"].get("prev")
    assert back == [peers[4], peers[3], peers[2], peers[1]]
