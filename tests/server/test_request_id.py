"""Every answer carries X-Request-Id; every request is one log line that holds no token."""

from __future__ import annotations

import logging
import re

import aiohttp
import pytest
from fabric_chat_server.testing import LocalServer


async def test_answers_carry_a_request_id_and_each_request_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="fabric_chat_server.requests")
    async with LocalServer() as server, aiohttp.ClientSession() as http:
        token = await server.token("alice")
        auth = {"Authorization": f"Bearer {token}"}
        caplog.clear()
        async with http.get(f"{server.base_url}/api/fabric/subscriber/info", headers=auth) as ok:
            assert ok.status == 200
            made = ok.headers["X-Request-Id"]
        headers = {**auth, "X-Request-Id": "my-trace.42"}
        async with http.get(f"{server.base_url}/api/fabric/nowhere", headers=headers) as missing:
            assert missing.status == 404
            assert missing.headers["X-Request-Id"] == "my-trace.42"
        bad = {"X-Request-Id": "no spaces allowed" + "x" * 80}
        async with http.get(f"{server.base_url}/api/fabric/subscriber/info", headers=bad) as no:
            assert no.status == 401
            replaced = no.headers["X-Request-Id"]
        async with http.ws_connect(f"{server.ws_url}/") as ws:
            upgraded = ws._response.headers["X-Request-Id"]
    assert re.fullmatch(r"req_[0-9a-f]{24}", made)
    assert re.fullmatch(r"req_[0-9a-f]{24}", replaced)
    assert re.fullmatch(r"req_[0-9a-f]{24}", upgraded)
    lines = [r.getMessage() for r in caplog.records if r.name == "fabric_chat_server.requests"]
    info = r"GET /api/fabric/subscriber/info"
    assert re.fullmatch(rf"{info} 200 \d+\.\dms request_id={made}", lines[0])
    assert re.fullmatch(r"GET /api/fabric/nowhere 404 \d+\.\dms request_id=my-trace\.42", lines[1])
    assert lines[2].startswith("GET /api/fabric/subscriber/info 401 ")
    assert lines[3].startswith("GET / 101 ")
    assert len(lines) == 4
    assert all(token not in line for line in lines)
