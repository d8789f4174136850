"""CORS: a browser page on another origin may call the subscriber API (the official clients).

Preflights need no token, touch no rate limit, and never echo an origin that was not
configured; project routes (HTTP Basic) and health checks answer no CORS at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fabric_chat_server.app import create_app
from fabric_chat_server.config import ServerConfig
from fabric_chat_server.testing import LocalServer

pytestmark = pytest.mark.sqlite_only

APP = "https://app.example.com"


async def preflight(
    session: aiohttp.ClientSession,
    server: LocalServer,
    path: str,
    method: str,
    origin: str | None = APP,
    headers: str = "authorization,content-type",
) -> aiohttp.ClientResponse:
    sent = {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
    if origin is not None:
        sent["Origin"] = origin
    async with session.options(server.base_url + path, headers=sent) as response:
        await response.read()
        return response


@pytest.fixture
async def limited() -> AsyncIterator[LocalServer]:
    """A server that allows one request per caller (and no refill to speak of)."""
    async with LocalServer(rate_limit_per_second=0.001, rate_limit_burst=1) as running:
        yield running
        assert running.state.stats.unexpected == 0


async def test_a_preflight_needs_no_token_and_allows_the_clients_headers(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    for path, method in (
        ("/api/fabric/messages", "POST"),
        ("/api/fabric/conversations/join", "POST"),
        ("/api/fabric/conversations/0b6e1f0e-0000-4000-8000-000000000000/messages", "GET"),
        ("/api/fabric/subscriber/info", "GET"),
        ("/api/fabric/addresses", "GET"),
    ):
        answer = await preflight(session, server, path, method)
        assert answer.status == 204, (path, answer.status)
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert method in answer.headers["Access-Control-Allow-Methods"].split(", ")
        allowed = {
            name.lower() for name in answer.headers["Access-Control-Allow-Headers"].split(", ")
        }
        assert {"authorization", "content-type", "idempotency-key"} <= allowed
        assert "Access-Control-Allow-Credentials" not in answer.headers


async def test_answers_of_subscriber_routes_are_readable_cross_origin_errors_included(
    api: Any, server: LocalServer
) -> None:
    alice = await server.token("alice")
    bob = await server.address_of("bob")
    origin = {"Origin": APP}
    status, _, response = await api.call(
        "POST",
        "/api/fabric/messages",
        token=alice,
        json={"conversation_id": bob, "text": "hi"},
        headers=origin,
    )
    assert status == 201
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
    assert "Retry-After" in exposed
    assert "X-Request-Id" in exposed
    # An error answer must be readable too, or a page sees only "network error".
    status, body, response = await api.call("GET", "/api/fabric/subscriber/info", headers=origin)
    assert status == 401
    assert body["errors"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    status, _, response = await api.call(
        "GET", "/api/fabric/addresses/no-such-address", token=alice, headers=origin
    )
    assert status in (404, 422)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_project_routes_and_health_checks_answer_no_cors(
    api: Any, server: LocalServer, session: aiohttp.ClientSession
) -> None:
    # POST /api/fabric/addresses is the project's (Basic); GET on the same path is a subscriber's.
    refused = await preflight(session, server, "/api/fabric/addresses", "POST")
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert (await preflight(session, server, "/api/fabric/addresses", "GET")).status == 204
    minted = await preflight(session, server, "/api/fabric/subscribers/tokens", "POST")
    assert minted.status == 405
    assert "Access-Control-Allow-Origin" not in minted.headers
    status, _, response = await api.call(
        "POST",
        "/api/fabric/subscribers/tokens",
        basic=True,
        json={"reference": "carol"},
        headers={"Origin": APP},
    )
    assert status == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    async with session.get(server.base_url + "/healthz", headers={"Origin": APP}) as answer:
        assert answer.status == 200
        assert "Access-Control-Allow-Origin" not in answer.headers


async def test_preflights_do_not_count_against_the_rate_limit(
    limited: LocalServer, session: aiohttp.ClientSession
) -> None:
    token = await limited.token("alice")
    for _ in range(20):
        answer = await preflight(session, limited, "/api/fabric/subscriber/info", "GET")
        assert answer.status == 204
    headers = {"Authorization": f"Bearer {token}", "Origin": APP}
    url = limited.base_url + "/api/fabric/subscriber/info"
    async with session.get(url, headers=headers) as answer:
        assert answer.status == 200
    async with session.get(url, headers=headers) as answer:
        assert answer.status == 429  # the limit is real: the preflights just did not use it
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Retry-After" in answer.headers


async def test_listed_origins_are_echoed_and_others_refused(session: aiohttp.ClientSession) -> None:
    async with LocalServer(cors_origins=(APP, "http://localhost:3000")) as server:
        token = await server.token("alice")
        allowed = await preflight(session, server, "/api/fabric/messages", "POST")
        assert allowed.status == 204
        assert allowed.headers["Access-Control-Allow-Origin"] == APP
        assert "Origin" in allowed.headers.getall("Vary")
        other = await preflight(
            session, server, "/api/fabric/messages", "POST", "https://evil.test"
        )
        assert other.status == 403
        assert "Access-Control-Allow-Origin" not in other.headers
        url = server.base_url + "/api/fabric/subscriber/info"
        for origin, expected in ((APP, APP), ("https://evil.test", None)):
            headers = {"Authorization": f"Bearer {token}", "Origin": origin}
            async with session.get(url, headers=headers) as answer:
                assert answer.status == 200  # CORS guards browsers' reads, not the API
                assert answer.headers.get("Access-Control-Allow-Origin") == expected
                assert "Origin" in answer.headers.getall("Vary")
        assert server.state.stats.unexpected == 0


async def test_strange_origins_change_nothing_and_are_never_echoed(
    server: LocalServer, session: aiohttp.ClientSession
) -> None:
    strange = ["null", "", "https://app.example.com/path", "x" * 8000, "https://é.test", "*"]
    for origin in strange:
        answer = await preflight(session, server, "/api/fabric/messages", "POST", origin)
        assert answer.status == 204  # '*' answers every origin the same way
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
    async with LocalServer(cors_origins=(APP,)) as listed:
        for origin in strange:
            answer = await preflight(session, listed, "/api/fabric/messages", "POST", origin)
            assert answer.status == 403, origin
            assert "Access-Control-Allow-Origin" not in answer.headers
        # Raw bytes that are not UTF-8 in the Origin header: still a clean refusal.
        reader, writer = await _raw(listed)
        writer.write(
            b"OPTIONS /api/fabric/messages HTTP/1.1\r\nHost: x\r\nOrigin: https://\xff\xfe.test\r\n"
            b"Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        )
        status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] in (b"400", b"403"), status_line
        assert listed.state.stats.unexpected == 0
    # A preflight for a method the path does not have, and a plain OPTIONS.
    answer = await preflight(session, server, "/api/fabric/messages", "DELETE")
    assert answer.status == 403
    async with session.options(server.base_url + "/api/fabric/messages") as plain:
        assert plain.status == 204
        assert set(plain.headers["Allow"].split(", ")) == {"OPTIONS", "GET", "POST"}


async def _raw(server: LocalServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def test_cors_can_be_turned_off(session: aiohttp.ClientSession) -> None:
    async with LocalServer(cors_origins=()) as server:
        token = await server.token("alice")
        answer = await preflight(session, server, "/api/fabric/messages", "POST")
        assert answer.status == 405
        headers = {"Authorization": f"Bearer {token}", "Origin": APP}
        async with session.get(
            server.base_url + "/api/fabric/subscriber/info", headers=headers
        ) as got:
            assert got.status == 200
            assert "Access-Control-Allow-Origin" not in got.headers


@pytest.mark.parametrize(
    "origins",
    [("https://app.example.com/",), ("app.example.com",), ("ftp://x.test",), ("*", APP), ("",)],
)
def test_a_configured_value_that_is_not_an_origin_is_refused(origins: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"origin|alone"):
        create_app(ServerConfig(cors_origins=origins))
