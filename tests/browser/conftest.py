"""The stage of the official-client tests: our server on TLS, a page on another origin, Chromium.

- Our server (:class:`LocalServer`) serves HTTPS and WSS on 127.0.0.1 with a throwaway
  certificate, and mints tokens whose ``ch`` is ``puc.chat.test:PORT``, as the real service
  writes a bare host there. The official clients derive from it the socket
  ``wss://puc.chat.test:PORT`` and the API ``https://fabric.chat.test:PORT``.
- The page is served by a second server at ``https://app.chat.test:PORT2``: another origin, so
  every API call of the client is a cross-origin call with a preflight, as in a real app.
- Chromium resolves ``*.chat.test`` to 127.0.0.1 (``--host-resolver-rules``; it has no other
  network) and accepts exactly our certificate's key (``--ignore-certificate-errors-spki-list``).
- The Python SDK reaches the same names through a resolver of its own and a TLS context that
  trusts the certificate; it derives its URLs from the token too.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from fabric_chat import AsyncClient
from fabric_chat_server.testing import LocalServer
from fabric_chat_server.tls import server_tls_context

from tests.browser.signalwire_js import CLIENTS, fetch_bundle
from tests.support.browser import Browser, open_browser
from tests.support.certs import Certificate, make_certificate

__all__ = ["Stage"]

DOMAIN = "chat.test"
PAGES = Path(__file__).parent / "pages"


class ChatTestResolver(AbstractResolver):
    """Resolves ``chat.test`` and its subdomains to 127.0.0.1, and nothing else."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != DOMAIN and not host.endswith("." + DOMAIN):
            raise OSError(f"{host} is not served in this test")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


@dataclass
class Stage:
    """Everything one test uses: the chat server, the page's URL, the browser tab."""

    server: LocalServer
    certificate: Certificate
    page_port: int
    browser: Browser

    def page_url(self, version: str) -> str:
        return f"https://app.{DOMAIN}:{self.page_port}/{version}/"

    def python_client(self, token: str) -> AsyncClient:
        """A Python SDK client whose URLs come from the token, as the official clients' do."""
        connector = aiohttp.TCPConnector(
            ssl=self.certificate.client_context(), resolver=ChatTestResolver()
        )
        return AsyncClient(token=token, connector=connector, trust_env=False)


def _page(version: str) -> str:
    shim = ""
    if version.startswith("4."):
        # 4.0.0-beta.12's UMD bundle expects a global `node_crypto` (its bundled uuid package
        # is the Node build, `require('node:crypto')`): without it the bundle throws on load
        # in every browser. This is the client's packaging bug, not the wire; the page gives
        # it the browser's Web Crypto under that name.
        shim = (
            "<script>globalThis.node_crypto = {randomUUID: () => crypto.randomUUID(), "
            "randomFillSync: (buffer) => crypto.getRandomValues(buffer)};</script>\n"
        )
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>official client</title>\n"
        "<link rel='icon' href='data:,'>\n"
        f"{shim}<script src='signalwire.js'></script>\n<script src='driver.js'></script>\n"
        "</head><body>official client test page</body></html>\n"
    )


async def _page_app() -> web.Application:
    bundles = {version: await fetch_bundle(client) for version, client in CLIENTS.items()}
    drivers = {version: (PAGES / client.driver).read_bytes() for version, client in CLIENTS.items()}

    async def page(request: web.Request) -> web.Response:
        version = request.match_info["version"]
        if version not in bundles:
            raise web.HTTPNotFound()
        return web.Response(text=_page(version), content_type="text/html")

    async def script(request: web.Request) -> web.Response:
        version, name = request.match_info["version"], request.match_info["name"]
        if version not in bundles or name not in ("signalwire.js", "driver.js"):
            raise web.HTTPNotFound()
        body = bundles[version] if name == "signalwire.js" else drivers[version]
        return web.Response(body=body, content_type="text/javascript")

    app = web.Application()
    app.router.add_get("/{version}/", page)
    app.router.add_get("/{version}/{name}", script)
    return app


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
async def stage(certificate: Certificate, tmp_path: Path) -> AsyncIterator[Stage]:
    page_runner = web.AppRunner(await _page_app(), access_log=None)
    await page_runner.setup()
    server = LocalServer(
        tls_cert=certificate.cert, tls_key=certificate.key, client_ssl=certificate.client_context()
    )
    try:
        await server.start()
        # The port is known once bound: name it in tokens and links, and start again on it.
        server.config.public_url = f"puc.{DOMAIN}:{server.port}"
        server.config.public_origin = f"https://fabric.{DOMAIN}:{server.port}"
        await server.restart()
        site = web.TCPSite(
            page_runner, "127.0.0.1", 0, ssl_context=server_tls_context(server.config)
        )
        await site.start()
        page_port = int(page_runner.addresses[0][1])
        flags = (
            f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={certificate.spki_sha256()}",
        )
        async with open_browser(tmp_path / "profile", flags=flags) as browser:
            yield Stage(server, certificate, page_port, browser)
        assert server.state.stats.unexpected == 0
    finally:
        await page_runner.cleanup()
        await server.aclose()
