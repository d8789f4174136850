"""Serving over TLS: HTTPS and WSS on one port, tokens that point there, a key kept secret."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path

import aiohttp
import pytest
from fabric_chat import AsyncClient
from fabric_chat_server.testing import LocalServer, ServerProcess
from fabric_chat_server.tls import TlsConfigError

from tests.support.certs import Certificate, make_certificate

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


def _header(token: str) -> dict[str, str]:
    head = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


async def test_https_and_wss_on_one_port_and_tokens_point_there(certificate: Certificate) -> None:
    trust = certificate.client_context()
    async with LocalServer(
        tls_cert=certificate.cert, tls_key=certificate.key, client_ssl=trust
    ) as server:
        assert server.base_url.startswith("https://127.0.0.1:")
        alice, bob = await server.token("alice"), await server.token("bob")
        channel = _header(alice)["ch"]  # (no token in an assertion's text)
        assert channel == f"wss://127.0.0.1:{server.port}"
        bob_address = await server.address_of("bob")
        received: asyncio.Queue[str] = asyncio.Queue()
        async with (
            AsyncClient(token=alice, connector=aiohttp.TCPConnector(ssl=trust)) as sender,
            AsyncClient(token=bob, connector=aiohttp.TCPConnector(ssl=trust)) as reader,
        ):
            alice_address = (await sender.get_subscriber_info()).fabric_addresses[0].id
            await reader.chat.subscribe(
                address_id=alice_address, on_message=lambda m: received.put_nowait(m.text or "")
            )
            await sender.chat.send_message(address_id=bob_address, text="over tls")
            async with asyncio.timeout(10):
                assert await received.get() == "over tls"
        # Plain HTTP on the TLS port is not served, and an untrusting client refuses the peer.
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{server.port}/healthz") as answer:
                    await answer.read()
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with session.get(server.base_url + "/healthz") as answer:
                    await answer.read()
        assert server.state.stats.unexpected == 0


async def test_a_key_every_user_may_read_is_refused_without_showing_it(
    certificate: Certificate,
) -> None:
    certificate.key.chmod(0o644)
    secret = certificate.key.read_text()
    server = LocalServer(tls_cert=certificate.cert, tls_key=certificate.key)
    with pytest.raises(TlsConfigError, match="chmod 600") as refused:
        await server.start()
    await server.aclose()
    assert secret.splitlines()[1] not in str(refused.value)


@pytest.mark.parametrize("broken", ["half", "mismatch", "garbage"])
async def test_a_bad_certificate_or_key_is_a_clear_error(
    certificate: Certificate, tmp_path: Path, broken: str
) -> None:
    if broken == "half":
        options: dict[str, object] = {"tls_cert": certificate.cert}
    else:
        (tmp_path / "other").mkdir()
        other = make_certificate(tmp_path / "other")
        if broken == "garbage":
            other.cert.write_text("not a certificate\n")
        options = {"tls_cert": other.cert, "tls_key": certificate.key}
    server = LocalServer(**options)
    with pytest.raises(TlsConfigError) as refused:
        await server.start()
    await server.aclose()
    assert "BEGIN" not in str(refused.value)


async def test_serve_with_tls_announces_https(certificate: Certificate) -> None:
    args = ("--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key))
    async with ServerProcess(*args, "--db", str(certificate.cert.parent / "chat.db")) as process:
        assert process.base_url.startswith("https://127.0.0.1:")
        connector = aiohttp.TCPConnector(ssl=certificate.client_context())
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(process.base_url + "/healthz") as answer,
        ):
            assert answer.status == 200


async def test_serve_refuses_a_readable_key_in_one_line(certificate: Certificate) -> None:
    certificate.key.chmod(0o604)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fabric_chat_cli",
        "serve",
        "--port",
        "0",
        "--db",
        str(certificate.cert.parent / "chat.db"),
        "--tls-cert",
        str(certificate.cert),
        "--tls-key",
        str(certificate.key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 1
    assert out == b""
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1
    assert "chmod 600" in lines[0]
