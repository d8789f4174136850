"""The documentation site, opened in headless Chromium: every page renders, nothing errs.

The site is ``make docs``'s ``build/site`` when it is newer than every source it is built
from, or else built here the same way (``mkdocs build --strict``) into a temporary directory.
It is served from 127.0.0.1; every request a page makes must stay on that origin (no CDN),
and the search must find a method by its name.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.browser import Browser, open_browser

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "build" / "site"
SOURCES = ("docsite", "docs", "generated", "runtime", "server")


def _newest_source() -> float:
    return max(
        path.stat().st_mtime
        for top in SOURCES
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = BUILT / "index.html"
    if index.exists() and index.stat().st_mtime > _newest_source():
        return BUILT
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "-f", str(ROOT / "docsite" / "mkdocs.yml"), "-d", str(out)],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return out


@pytest.fixture
async def origin(site: Path) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_static("/", site)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with open_browser(tmp_path / "profile") as tab:
        yield tab


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


async def test_every_page_renders_offline_with_no_console_error(
    site: Path, origin: str, browser: Browser
) -> None:
    pages = _pages(site)
    expected = {"index.html", "install.html", "quickstart.html", "reference/python.html"}
    expected |= {"reference/rest.html", "reference/websocket.html"}
    expected |= {f"guides/{name}.html" for name in ("errors", "retries", "token-refresh")}
    expected |= {f"guides/{name}.html" for name in ("logging", "testing", "server")}
    assert expected <= set(pages)
    for page in pages:
        report = await browser.load(f"{origin}/{page}")
        assert report.errors == [], page
        foreign = [u for u in report.requests if not u.startswith((origin, "data:", "blob:"))]
        assert foreign == [], page
        heading = await browser.evaluate("document.querySelector('article h1')?.textContent")
        assert heading, f"{page} has no heading"
        body = await browser.evaluate("document.querySelector('article').innerText.length")
        assert body > (10 if page == "404.html" else 100), page


async def test_the_rest_reference_shows_the_specs_examples(origin: str, browser: Browser) -> None:
    report = await browser.load(f"{origin}/reference/rest.html")
    assert report.errors == []
    text = await browser.evaluate("document.querySelector('article').innerText")
    assert "POST /api/fabric/conversations/join" in text
    assert "Hello from SignalWire!" in text  # an example from spec/chat.yaml
    assert "Conversations" in text  # a tag from spec/chat.yaml


async def test_search_finds_a_method_by_name(origin: str, browser: Browser) -> None:
    report = await browser.load(f"{origin}/index.html?q=send_message", settle=0)
    links: list[str] = []
    for _ in range(150):  # the search index loads in a worker: up to 15 s
        links = await browser.evaluate(
            "[...document.querySelectorAll('.md-search-result__item a')].map(a => a.href)"
        )
        if links:
            break
        await asyncio.sleep(0.1)
    assert report.errors == []
    method = "reference/python.html?h=send_message#fabric_chat.ChatNamespace.send_message"
    assert f"{origin}/{method}" in links, links
