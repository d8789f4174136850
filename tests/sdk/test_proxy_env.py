"""trust_env: HTTP(S)_PROXY from the environment is honoured (read once per origin)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from fabric_chat import APIConnectionError, AsyncClient
from fabric_chat.models import SubscriberInfo

from .conftest import make_token


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A forward proxy stand-in: answers every request itself and records what it was asked."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.url}")
        return web.json_response({"id": "sub-1", "fabric_addresses": [{"id": "addr-1"}]})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_calls_go_through_the_environment_proxy(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    target = "http://chat.example.invalid:8787"
    token = make_token("ws://chat.example.invalid:8787")
    async with AsyncClient(token=token, base_url=target, max_retries=0) as client:
        for _ in range(3):
            info = await client.get_subscriber_info()
            assert isinstance(info, SubscriberInfo)
    assert seen == [f"GET {target}/api/fabric/subscriber/info"] * 3


async def test_without_trust_env_the_proxy_is_not_used(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    token = make_token("ws://127.0.0.1:9")
    async with AsyncClient(
        token=token, base_url="http://127.0.0.1:9", max_retries=0, trust_env=False
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.get_subscriber_info()
    assert seen == []
