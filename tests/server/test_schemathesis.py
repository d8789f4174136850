"""Schemathesis against docs/openapi.json and the live in-process server (bounded examples).

Every operation gets a few generated requests with real credentials; no answer may be a 5xx,
and every answer must match the spec (status, content type, body schema, headers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fabric_chat_server.testing import ThreadedServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(OPENAPI)
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in json.loads(OPENAPI.read_text())["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
)


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, str]]:
    with ThreadedServer(rate_limit_per_second=0) as server:
        bob = server.address_of("bob")
        alice = server.token("alice")
        room = server.create_room("general")
        yield {
            "base_url": server.base_url,
            "bearer": f"Bearer {alice}",
            "basic": server.server.basic_auth(),
            "bob": bob,
            "room": room,
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
        # Schema-valid values the server refuses on meaning (a forged page_token, joining only
        # yourself, empty text) get the documented 422, so "positive data accepted" is left out;
        # every other check (no 5xx, status, content type, body and header schemas) runs.
        response = case.call_and_validate(
            base_url=live["base_url"],
            headers={"Authorization": auth},
            excluded_checks=[positive_data_acceptance],
        )
        statuses.append(response.status_code)

    run()
    # The checks really ran, on a bounded number of calls, and never met a server fault.
    assert 0 < len(statuses) <= 15
    assert all(status < 500 for status in statuses)
