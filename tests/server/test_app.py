"""The application's wiring: routes from the contract, public names, concurrency of sends."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import fabric_chat_server
import pytest
from fabric_chat._protocol import INVALID_PARAMS, RESUME_REFUSED, SIGNALWIRE_CONNECT, TOKEN_ERROR
from fabric_chat_server import routes
from fabric_chat_server.app import create_app
from fabric_chat_server.config import ServerConfig
from fabric_chat_server.testing import LocalServer

from .conftest import row_counts


def test_every_module_declares_all() -> None:
    names = [
        m.name for m in pkgutil.walk_packages(fabric_chat_server.__path__, "fabric_chat_server.")
    ]
    assert "fabric_chat_server.runner" in names
    for name in names:
        module = importlib.import_module(name)
        assert isinstance(getattr(module, "__all__", None), list), name
        for public in module.__all__:
            assert hasattr(module, public), (name, public)


def test_create_app_fails_when_an_operation_has_no_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    handlers = dict(routes.HANDLERS)
    del handlers["sendMessage"]
    monkeypatch.setattr(routes, "HANDLERS", handlers)
    with pytest.raises(RuntimeError, match="sendMessage"):
        create_app(ServerConfig(db_path=tmp_path / "x.db"))


def test_config_repr_hides_secrets(tmp_path: Path) -> None:
    config = ServerConfig(
        db_path=tmp_path / "x.db", project_token="tok-secret", jwt_secret="jwt-secret"
    )
    assert "tok-secret" not in repr(config)
    assert "jwt-secret" not in repr(config)


async def test_concurrent_sends_arrive_in_store_order(
    server: LocalServer, api: Any, rpc_factory: Any
) -> None:
    alice, bob = await server.token("alice"), await server.token("bob")
    b_addr = await server.address_of("bob")
    await api.post("/api/fabric/conversations/join", alice, {"conversation_id": b_addr})
    rpc = await rpc_factory()
    await rpc.connect(bob)
    sent = await asyncio.gather(*(api.send(alice, b_addr, f"n{i}") for i in range(20)))
    events = [(await rpc.event())["params"]["params"] for _ in range(20)]
    stamps = [event["ts"] for event in events]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 20
    assert {event["id"] for event in events} == {message["id"] for message in sent}
    _, page = await api.get(f"/api/fabric/conversations/{b_addr}/messages?page_size=20", alice)
    assert [m["id"] for m in page["data"]] == [event["id"] for event in reversed(events)]


async def test_resume_after_restart_is_honoured_and_an_unknown_one_refused(
    server: LocalServer, rpc_factory: Any
) -> None:
    bob = await server.token("bob")
    rpc = await rpc_factory()
    await rpc.connect(bob)
    protocol = rpc.protocol
    await server.restart()
    again = await rpc_factory()
    answer = await again.connect(bob, protocol=protocol)
    assert answer["result"]["protocol"] == protocol  # sessions live in the store
    other = await rpc_factory()
    assert (await other.connect(bob, protocol=protocol + "x"))["error"]["code"] == RESUME_REFUSED
    assert "result" in await other.connect(bob)


async def test_websocket_connect_errors(server: LocalServer, rpc_factory: Any) -> None:
    rpc = await rpc_factory()
    await rpc.send(
        {"jsonrpc": "2.0", "id": "c", "method": SIGNALWIRE_CONNECT, "params": {"version": 4}}
    )
    assert (await rpc.receive())["error"]["code"] == INVALID_PARAMS
    token = server.state.token_service.mint(
        subscriber_id="ghost", project_id=server.project_id, channel=server.ws_url
    )
    assert (await rpc.connect(token))["error"]["code"] == TOKEN_ERROR


def test_defaults_are_the_issues() -> None:
    config = ServerConfig()
    assert (config.host, config.port, config.db_path) == ("127.0.0.1", 8787, Path("fabric-chat.db"))
    assert (config.ping_interval, config.resume_window) == (10.0, 120.0)
    assert config.max_text_bytes == 64 * 1024
    assert config.public_url is None  # ws://HOST:PORT of the bound socket


async def test_text_limit_is_configurable_and_exact(store_options: dict[str, Any]) -> None:
    import aiohttp

    async with (
        LocalServer(max_text_bytes=8, **store_options) as server,
        aiohttp.ClientSession() as session,
    ):
        alice = await server.token("alice")
        b_addr = await server.address_of("bob")
        headers = {"Authorization": f"Bearer {alice}"}
        statuses = []
        for text in ("12345678", "123456789", "ééééé"):  # 8 bytes, 9 bytes, 10 UTF-8 bytes
            async with session.post(
                server.base_url + "/api/fabric/messages",
                json={"conversation_id": b_addr, "text": text},
                headers=headers,
            ) as response:
                statuses.append(response.status)
        assert statuses == [201, 413, 413]
        assert (await row_counts(server))["messages"] == 1
