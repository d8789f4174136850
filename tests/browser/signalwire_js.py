"""The official SignalWire JavaScript clients, fetched with ``npm pack`` and checked before use.

Each client is pinned to an exact version and its npm ``integrity`` (the registry's SHA-512 of
the tarball). The tarball is fetched once into a cache directory outside the repository
(``$FABRIC_CHAT_TEST_CACHE``, else ``$XDG_CACHE_HOME/fabric-chat-tests``, else
``~/.cache/fabric-chat-tests``), and its hash is checked every time it is read: a tarball
that does not match is fetched again, and a second mismatch fails the test. Nothing is
vendored into git and nothing is skipped: without npm or the registry, the test fails and says
how to fix it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLIENTS", "PinnedClient", "fetch_bundle"]


@dataclass(frozen=True)
class PinnedClient:
    """One published version of ``@signalwire/js`` and the browser bundle of its tarball."""

    version: str
    integrity: str
    bundle: str
    driver: str

    @property
    def tarball_name(self) -> str:
        return f"signalwire-js-{self.version}.tgz"


CLIENTS = {
    # The address dialect before `client.chat`: its `client.conversation` namespace.
    "3.27.0": PinnedClient(
        version="3.27.0",
        integrity="sha512-Hvqy/zccBpGtwh+9s22+nUtedRRAeqMSc6D0er67+Sw8rwcEcBEFn9t80RFAmuT7p2ZphnwsDRb0ngcAjJQAzg==",
        bundle="package/dist/index.umd.js",
        driver="sw3_27.js",
    ),
    # The address dialect: the last release whose `client.chat` namespace talks to the backend
    # (3.27.0 has no `chat` namespace yet; from 3.29.0 every chat method throws "unsupported
    # by the backend").
    "3.28.0": PinnedClient(
        version="3.28.0",
        integrity="sha512-NjHrlKdxOxfYyo4tOy4EN3mkexCWr23Z13eXsVmxK5OhnraG65N0wn7a6UtgM2j6+DoMLiZIwXs2IKK3VaS3Lg==",
        bundle="package/dist/index.umd.js",
        driver="sw3.js",
    ),
    # The group dialect: the current generation (object and observable based).
    "4.0.0-beta.12": PinnedClient(
        version="4.0.0-beta.12",
        integrity="sha512-r1OK2WkcrLO8/akM1HBgH0nicTMqyOK4eq07Lp8mRpe2HHkOpheAJbA98mZdQ5QkiN3puo+kSruy89hOJ40Qvg==",
        bundle="package/dist/browser.umd.js",
        driver="sw4.js",
    ),
}

_NPM_TIMEOUT = 300.0


def cache_dir() -> Path:
    """Return the directory that keeps fetched tarballs (made when missing)."""
    root = os.environ.get("FABRIC_CHAT_TEST_CACHE")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "fabric-chat-tests"
    path = path / "npm"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


async def _npm_pack(client: PinnedClient, destination: Path) -> Path:
    npm = shutil.which("npm")
    assert npm, "npm is not installed: apt-get install -y nodejs npm (.ci/run does)"
    with tempfile.TemporaryDirectory(dir=destination) as work:
        process = await asyncio.create_subprocess_exec(
            npm,
            "pack",
            f"@signalwire/js@{client.version}",
            "--pack-destination",
            work,
            "--ignore-scripts",
            "--silent",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=work,
        )
        try:
            async with asyncio.timeout(_NPM_TIMEOUT):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(
                f"npm pack @signalwire/js@{client.version} took over {_NPM_TIMEOUT:.0f}s; "
                "is the npm registry reachable?"
            ) from None
        fetched = Path(work) / client.tarball_name
        if process.returncode != 0 or not fetched.exists():
            raise AssertionError(
                f"npm pack @signalwire/js@{client.version} failed (exit {process.returncode}): "
                f"{err.decode(errors='replace')[-2000:]}{out.decode(errors='replace')[-500:]}"
            )
        target = destination / client.tarball_name
        os.replace(fetched, target)
        return target


async def fetch_bundle(client: PinnedClient) -> bytes:
    """Return the client's browser bundle, from a tarball whose integrity was just checked.

    Raises:
        AssertionError: npm is missing, the fetch failed, or the tarball does not match the
            pinned integrity even when fetched afresh.
    """
    directory = cache_dir()
    tarball = directory / client.tarball_name
    if not tarball.exists() or _integrity(tarball.read_bytes()) != client.integrity:
        tarball = await _npm_pack(client, directory)
    data = tarball.read_bytes()
    found = _integrity(data)
    assert found == client.integrity, (
        f"@signalwire/js@{client.version} from npm has integrity {found}, "
        f"not the pinned {client.integrity}: refusing to run it"
    )
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile(client.bundle)
        assert member is not None, f"{client.bundle} is not a file in {client.tarball_name}"
        return member.read()
