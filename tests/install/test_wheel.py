"""The built wheel, installed with no extras into a fresh venv, is the SDK alone and works.

The venv gets the SDK's own dependencies (aiohttp and msgspec, with theirs) from this
environment, linked one by one, and nothing else: no click, rich, pyjwt, aiosqlite or pytest.
The quickstart's SDK part (``chat()`` of the README's quickstart) then runs in it against a
server started here, and each missing extra says, in one line, which extra to install.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fabric_chat_server.testing import LocalServer
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
_CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _closure(*names: str) -> set[str]:
    """Return the distributions ``names`` need here, themselves included (no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        name = dist.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        for spec in dist.requires or ():
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def _link_distributions(names: set[str], target: Path) -> None:
    """Symlink each distribution's top-level files and its .dist-info into ``target``."""
    target.mkdir()
    for name in names:
        dist = importlib.metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or ()}
        for top in tops:
            if top.endswith(".pth") or top in ("..", "bin") or top.endswith(".data"):
                continue
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)


def _quickstart() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Python quickstart", 1)[1]
    return _CODE_BLOCK.search(quickstart).group(1)  # type: ignore[union-attr]


def _run(*argv: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a bare environment (no venv, no FABRIC_CHAT_* variable)."""
    return subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={"PATH": os.environ["PATH"]},
    )


@pytest.mark.slow
def test_the_wheel_alone_runs_the_quickstart_and_names_missing_extras(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("fabric_chat-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    text = metadata.decode()
    assert sorted(re.findall(r"^Provides-Extra: (\S+)$", text, re.M)) == [
        "cli",
        "postgres",
        "server",
        "test",
    ]
    plain = [r for r in re.findall(r"^Requires-Dist: (.*)$", text, re.M) if "extra ==" not in r]
    assert sorted(Requirement(r).name for r in plain) == ["aiohttp", "msgspec"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--disable-pip-version-check", "--quiet", str(wheel)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run(python, "-c", where).stdout.strip())
    deps = tmp_path / "sdk-deps"
    _link_distributions(_closure("aiohttp", "msgspec"), deps)
    (purelib / "_sdk_dependencies.pth").write_text(f"{deps}\n")

    optional = ("click", "rich", "jwt", "aiosqlite", "pytest", "yaml")
    probe = f"import importlib.util as u; print([m for m in {optional!r} if u.find_spec(m)])"
    absent = _run(python, "-I", "-c", probe, cwd=tmp_path)
    assert absent.stdout.strip() == "[]", absent.stderr

    # The quickstart's SDK part, against a server started from the dev environment.
    (tmp_path / "quickstart.py").write_text(_quickstart(), encoding="utf-8")

    async def serve_and_run() -> subprocess.CompletedProcess[str]:
        async with LocalServer() as server:
            alice = await server.token("alice", display_name="Alice")
            bob = await server.token("bob", display_name="Bob")
            code = "import asyncio, os, quickstart\n"
            code += "asyncio.run(quickstart.chat(os.environ['A'], os.environ['B']))\n"
            process = await asyncio.create_subprocess_exec(
                str(python), "-c", code, cwd=tmp_path,
                env={"PATH": os.environ["PATH"], "A": alice, "B": bob},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode is not None
            return subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())

    done = asyncio.run(serve_and_run())
    assert done.returncode == 0, done.stderr
    assert "bob got 'Hello Bob' from Alice" in done.stdout
    assert "Alice: Hello Bob" in done.stdout

    # Each missing extra: one line that names it.
    script = venv / "bin" / "fabric-chat"
    cli = _run(script, "--help")
    assert (cli.returncode, cli.stdout) == (1, "")
    assert cli.stderr == (
        "Error: the fabric-chat command needs the 'cli' extra: pip install 'fabric-chat[cli]'\n"
    )
    server = _run(python, "-c", "from fabric_chat_server.testing import LocalServer")
    assert server.returncode == 1
    assert server.stderr.splitlines()[-1] == (
        "fabric_chat_server._extras.MissingExtraError: the fabric-chat server needs the 'server' "
        "extra: pip install 'fabric-chat[server]'"
    )

    # With the cli extra only, the command works and `serve` names the server extra.
    cli_deps = tmp_path / "cli-deps"
    _link_distributions(_closure("click", "rich"), cli_deps)
    (purelib / "_cli_dependencies.pth").write_text(f"{cli_deps}\n")
    listed = _run(script, "--help")
    assert listed.returncode == 0, listed.stderr
    assert "serve" in listed.stdout
    serve = _run(script, "serve", "--port", "0")
    assert serve.returncode == 1
    assert serve.stderr == (
        "Error: fabric-chat serve needs the 'server' extra: pip install 'fabric-chat[server]'\n"
    )
