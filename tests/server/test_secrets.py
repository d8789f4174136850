"""Secrets (SATs, the project token, the signing secret) never reach a log line, error or repr."""

from __future__ import annotations

import logging
import time
from typing import Any

import jwt
import pytest
from fabric_chat._protocol import SIGNALWIRE_REAUTHENTICATE, TOKEN_ERROR
from fabric_chat.project import ProjectClient
from fabric_chat_server.testing import LocalServer


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record from before the server starts (so its start-up is included)."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_a_whole_session_logged_at_debug_shows_no_secret(
    debug_logs: pytest.LogCaptureFixture,
    api: Any,
    rpc_factory: Any,
    server: LocalServer,
    store_kind: str,
) -> None:
    caplog = debug_logs
    alice, bob = await server.token("alice"), await server.token("bob")
    a_addr, b_addr = await server.address_of("alice"), await server.address_of("bob")
    bob_id = jwt.decode(bob, options={"verify_signature": False})["sub"]
    expired = server.state.token_service.mint(
        subscriber_id=bob_id,
        project_id=server.project_id,
        channel=server.ws_url,
        now=time.time() - 100,
        expires_at=int(time.time()) - 10,
    )
    secret = await server.state.store.get_setting("jwt_secret")
    assert secret
    wrong_basic = ProjectClient.authorization(server.project_id, "guess-PT")
    answers: list[Any] = []

    socket = await rpc_factory()
    answers.append(await socket.connect(bob))
    refused = await rpc_factory()
    answers.append(await refused.connect(expired))
    for request_id, token in (("bad", expired), ("good", await server.token("bob"))):
        await socket.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": SIGNALWIRE_REAUTHENTICATE,
                "params": {"authentication": {"project": server.project_id, "jwt_token": token}},
            }
        )
        answers.append(await socket.receive_until(lambda f, rid=request_id: f.get("id") == rid))
    sent = await api.send(alice, b_addr, "hello")
    answers.append(sent)
    answers.append((await socket.event())["params"])
    answers.append(await api.get(f"/api/fabric/conversations/{a_addr}/messages", bob))
    answers.append(await api.get("/api/fabric/subscriber/info", expired))
    answers.append(await api.get("/api/fabric/subscriber/info", alice + "x"))
    answers.append(
        await api.call(
            "POST",
            "/api/fabric/subscribers/tokens",
            json={"reference": "eve"},
            headers={"Authorization": wrong_basic},
        )
    )
    assert answers[1]["error"]["code"] == TOKEN_ERROR
    assert answers[2]["error"]["code"] == TOKEN_ERROR
    assert answers[3]["result"] == {}

    secrets = {
        "alice's token": alice,
        "alice's signature": alice.split(".")[2],
        "bob's token": bob,
        "the expired token": expired,
        "the project token": server.project_token,
        "a guessed project token": "guess-PT",
        "the signing secret": secret,
    }
    records = caplog.get_records("setup") + caplog.get_records("call")  # start-up included
    if store_kind == "sqlite":
        assert any(r.name == "aiosqlite" for r in records)  # the store's calls were logged, too
    assert any(r.name.startswith("fabric_chat_server") for r in records)
    logged = "\n".join(record.getMessage() for record in records)
    logged += "".join(str(record.args) for record in records)
    shown = str(answers) + repr(server.state) + repr(server.config) + repr(server)
    shown += repr(server.state.token_service) + repr(server.state.page_token_service)
    shown += repr(server.state.store)
    for name, value in secrets.items():
        assert value not in logged, f"{name} was logged"
        assert value not in shown, f"{name} is in an answer or a repr"
