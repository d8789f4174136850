"""The client surface: options, URL derivation, public names, the runtime's independence."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import fabric_chat_runtime
import pytest
from fabric_chat_runtime import errors
from fabric_chat_runtime.retry import HeartbeatPolicy, ReconnectPolicy, RetryPolicy
from fabric_chat_runtime.tokens import derive_endpoints, read_channel

from .conftest import Client, make_token

RUNTIME = Path(fabric_chat_runtime.__file__).parent


@pytest.mark.parametrize(
    ("ch", "base_url", "ws_url"),
    [
        ("ws://127.0.0.1:8787", "http://127.0.0.1:8787", "ws://127.0.0.1:8787"),
        ("wss://localhost:9000/", "https://localhost:9000", "wss://localhost:9000/"),
        ("puc.signalwire.com", "https://fabric.signalwire.com", "wss://puc.signalwire.com"),
        ("wss://relay.example.org", "https://fabric.example.org", "wss://relay.example.org"),
        ("example.org", "https://fabric.example.org", "wss://example.org"),
        ("ws://10.0.0.2", "http://10.0.0.2", "ws://10.0.0.2"),
    ],
)
def test_urls_derived_from_the_token(ch: str, base_url: str, ws_url: str) -> None:
    endpoints = derive_endpoints(make_token(ch), base_url=None, ws_url=None)
    assert (endpoints.base_url, endpoints.ws_url) == (base_url, ws_url)


def test_explicit_urls_win_and_a_token_without_ch_uses_the_default_host() -> None:
    token = make_token("ws://127.0.0.1:1")
    both = derive_endpoints(token, base_url="http://h:1/", ws_url="ws://h:2")
    assert (both.base_url, both.ws_url) == ("http://h:1", "ws://h:2")
    assert derive_endpoints(token, base_url="http://x", ws_url=None).ws_url == "ws://127.0.0.1:1"
    assert read_channel("e30.e30.sig") is None  # header {}
    default = derive_endpoints("e30.e30.sig", base_url=None, ws_url=None)
    assert default.ws_url == "wss://relay.signalwire.com"
    assert default.base_url == "https://fabric.signalwire.com"


@pytest.mark.parametrize("token", ["not a jwt!", "%%%.x.y", "bm90IGpzb24.x.y"])
def test_an_unreadable_token_is_an_argument_error(token: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="token") as caught:
        Client(token=token)
    assert token not in str(caught.value)


def test_an_unknown_option_is_a_type_error_as_for_any_function() -> None:
    with pytest.raises(TypeError, match="retries"):
        Client(token=make_token("ws://127.0.0.1:1"), retries=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": ""}, "token"),
        ({"token": None}, "token"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"connector": object()}, "connector"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"ping_timeout": -1}, "ping_timeout"),
        ({"connect_timeout": "5"}, "connect_timeout"),
        ({"retry": 3}, "retry"),
        ({"reconnect": RetryPolicy()}, "reconnect"),
        ({"heartbeat": 1.0}, "heartbeat"),
        ({"agent": 5}, "agent"),
        ({"session": object()}, "session"),
        ({"base_url": 5}, "base_url"),
    ],
)
def test_wrong_options(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"token": make_token("ws://127.0.0.1:1"), **kwargs}
    with pytest.raises(errors.InvalidArgumentError, match=message):
        Client(**arguments)


def test_policies_validate_themselves() -> None:
    with pytest.raises(errors.InvalidArgumentError):
        ReconnectPolicy(jitter=2.0)
    with pytest.raises(errors.InvalidArgumentError):
        HeartbeatPolicy(ping_timeout=0)
    table = ReconnectPolicy(random=lambda: 0.0)
    assert [table.delay(n) for n in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0]
    assert ReconnectPolicy(random=lambda: 1.0).delay(0) == pytest.approx(0.05)


async def test_options_reach_the_engine_and_repr_hides_the_token() -> None:
    token = make_token("ws://127.0.0.1:1")
    client = Client(token=token, ping_timeout=2.5, connect_timeout=1.0, agent="me/1", timeout=3.0)
    assert client.engine.live.socket._heartbeat.ping_timeout == 2.5
    assert "ws_url='ws://127.0.0.1:1'" in repr(client)
    assert token not in repr(client)
    assert token not in repr(client.engine)
    assert token not in repr(client.engine._http)
    await client.aclose()
    await client.aclose()
    with pytest.raises(errors.ClientClosedError):
        await client.engine.my_address()
    client.engine.conversation_stream(
        item_type=dict, address_id=None, chat_only=False
    )  # lazy: no error yet
    with pytest.raises(errors.ClientClosedError):
        await client.engine.subscribe_conversation(
            item_type=dict, on_message=print, address_id=None, chat_only=False
        )


def _modules() -> list[str]:
    return [f"fabric_chat_runtime.{info.name}" for info in pkgutil.iter_modules([str(RUNTIME)])]


@pytest.mark.parametrize("name", _modules())
def test_every_module_declares_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.{public}"


def test_the_runtime_never_imports_the_generated_package_or_aiohttp_outside_transport() -> None:
    for path in RUNTIME.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
        assert "fabric_chat" not in imported, path.name
        assert "fabric_chat_server" not in imported, path.name
        if path.name != "transport.py":
            assert "aiohttp" not in imported, path.name


def test_package_exports() -> None:
    assert sorted(fabric_chat_runtime.__all__) == [
        "BaseClient",
        "ConnectionState",
        "FabricChatError",
        "HeartbeatPolicy",
        "MessageStream",
        "Page",
        "ReconnectPolicy",
        "RetryPolicy",
        "Subscription",
    ]
