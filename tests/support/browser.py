"""Drive headless Chromium (Debian's ``chromium``) over the DevTools protocol, with aiohttp.

Only what the docs and browser tests need: start the browser on a private profile with every
background network feature off (plus any flags a test adds), open one tab, navigate, evaluate
JavaScript (awaiting a promise when asked), and collect what the page reported (exceptions,
unhandled rejections, console errors, failed loads, every URL it requested, every console line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["Browser", "PageReport", "find_chromium", "open_browser"]

_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str:
    """Return the path of Debian's chromium; fail with how to install it."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is not installed: apt-get install -y chromium (.ci/run does)")


@dataclass
class PageReport:
    """What one page load reported."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


class Browser:
    """One tab of a running Chromium, driven over one DevTools websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._session = ""
        self._loaded = asyncio.Event()
        self.report = PageReport()

    async def read(self) -> None:
        """Dispatch answers and events until the socket closes."""
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is not None and not future.done():
                    if "error" in data:
                        future.set_exception(AssertionError(f"DevTools: {data['error']}"))
                    else:
                        future.set_result(data.get("result", {}))
            else:
                self._event(data.get("method", ""), data.get("params", {}))
        for future in self._pending.values():
            future.cancel()

    def _event(self, method: str, params: dict[str, Any]) -> None:
        report = self.report
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            report.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled":
            words = [str(arg.get("value", arg.get("description", ""))) for arg in params["args"]]
            report.console.append(f"{params.get('type')}: " + " ".join(words))
            if params.get("type") in ("error", "assert"):
                report.errors.append("console.error: " + " ".join(words))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            report.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            report.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            report.errors.append(f"load failed: {params.get('errorText')}")

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one DevTools command (to the tab once attached) and return its result."""
        self._ids += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = future
        frame: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if self._session and not method.startswith("Target."):
            frame["sessionId"] = self._session
        await self._ws.send_str(json.dumps(frame))
        async with asyncio.timeout(30):
            return await future

    async def open_tab(self) -> None:
        """Open a tab and turn on the domains whose events the report collects."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.call(f"{domain}.enable")

    async def load(self, url: str, *, settle: float = 0.3) -> PageReport:
        """Navigate to ``url``, wait for its load event, and return what it reported."""
        self.report = PageReport()
        self._loaded.clear()
        await self.call("Page.navigate", {"url": url})
        async with asyncio.timeout(30):
            await self._loaded.wait()
        await asyncio.sleep(settle)  # late errors: scripts that run after load
        return self.report

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """Return the JSON value of a JavaScript expression in the tab (a promise's, awaited)."""
        result = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")


@contextlib.asynccontextmanager
async def open_browser(profile: Path, *, flags: tuple[str, ...] = ()) -> AsyncIterator[Browser]:
    """Start Chromium on ``profile`` (a fresh directory) and yield a :class:`Browser` tab.

    ``flags`` are added to the fixed ones (``--host-resolver-rules=...``, say).
    """
    process = await asyncio.create_subprocess_exec(
        find_chromium(),
        *_FLAGS,
        *flags,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        active = profile / "DevToolsActivePort"
        async with asyncio.timeout(60):
            # Chromium writes the file when it listens; nothing to wait on but the file.
            while not (active.exists() and len(active.read_text().split()) == 2):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        port, path = active.read_text().split()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
            asyncio.TaskGroup() as tasks,
        ):
            browser = Browser(ws)
            tasks.create_task(browser.read())
            try:
                await browser.open_tab()
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    await browser.call("Browser.close")
                await ws.close()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
