"""Schemathesis against docs/openapi.json and the live in-process server (bounded examples).

Every operation gets a few generated requests with real credentials; no answer may be a 5xx,
every answer must match the spec (status, content type, body schema, headers), and a request
valid per the schema must not be refused (``positive_data_acceptance``: the export is as
strict as the server). Values no schema can generate, because only the server issues them
(an id that exists, a page token), are given real ones, as a client would have them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import schemathesis
from fabric_chat_server.testing import ThreadedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance
from yarl import URL

from .conftest import STORES, module_store_options

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(OPENAPI)
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in json.loads(OPENAPI.read_text())["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
)


async def _join_and_send(base_url: str, alice: str, bob: str, room: str) -> None:
    headers = {"Authorization": f"Bearer {alice}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for key in (bob, room):
            async with session.post(
                base_url + "/api/fabric/conversations/join", json={"conversation_id": key}
            ) as response:
                assert response.status == 200
            for text in ("one", "two"):
                async with session.post(
                    base_url + "/api/fabric/messages", json={"conversation_id": key, "text": text}
                ) as response:
                    assert response.status == 201


async def _page_tokens(base_url: str, alice: str, keys: list[str]) -> dict[str, str]:
    """Return a real ``page_token`` of each list (by its path, path parameters filled in)."""
    paths = ["/api/fabric/addresses", "/api/fabric/conversations", "/api/fabric/messages"]
    paths += [f"/api/fabric/conversations/{key}/messages" for key in keys]
    tokens: dict[str, str] = {}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {alice}"}) as session:
        for path in paths:
            async with session.get(base_url + path, params={"page_size": "1"}) as response:
                page = await response.json()
            tokens[path] = URL(page["links"]["next"]).query["page_token"]
    return tokens


@pytest.fixture(scope="module", params=STORES)
def live(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    with (
        module_store_options(request) as options,
        ThreadedServer(rate_limit_per_second=0, **options) as server,
    ):
        bob = server.address_of("bob")
        alice = server.token("alice")
        room = server.create_room("general")
        server.call(_join_and_send(server.base_url, alice, bob, room))
        yield {
            "base_url": server.base_url,
            "bearer": f"Bearer {alice}",
            "basic": server.server.basic_auth(),
            "bob": bob,
            "room": room,
            "page_tokens": server.call(_page_tokens(server.base_url, alice, [bob, room])),
        }
        stats = server.server.state.stats
        assert stats.unexpected == 0


def test_every_contract_operation_is_in_openapi() -> None:
    from fabric_chat.contract import CONTRACT

    assert {(route.method, route.path) for route in CONTRACT.routes} == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_operation_conforms(live: dict[str, str], method: str, path: str) -> None:
    operation = schema[path][method]
    basic = path in ("/api/fabric/subscribers/tokens",) or (
        path == "/api/fabric/addresses" and method == "POST"
    )
    auth = live["basic"] if basic else live["bearer"]
    known_keys = st.sampled_from([live["bob"], live["room"], "unknown-id"])
    statuses: list[int] = []

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), key=known_keys)
    def run(case: Any, key: str) -> None:
        if case.path_parameters:
            for name in case.path_parameters:
                case.path_parameters[name] = key
        if case.query and "page_token" in case.query:
            filled = path.replace("{key}", str(key))
            token = live["page_tokens"].get(filled)
            if token is None:  # a list of an id that does not exist has no pages to point at
                del case.query["page_token"]
            else:
                case.query["page_token"] = token
        response = case.call_and_validate(
            base_url=live["base_url"],
            headers={"Authorization": auth},
            additional_checks=[positive_data_acceptance],  # also among the defaults: be sure
        )
        statuses.append(response.status_code)

    run()
    # The checks really ran, on a bounded number of calls, and never met a server fault.
    assert 0 < len(statuses) <= 15
    assert all(status < 500 for status in statuses)
