"""Every code block of README.md is executed, so the README cannot rot.

A block may be preceded, on the line right above its fence, by a marker the test understands:

    <!-- readme-test: make -->                    lines of ``make TARGET``: each target must
                                                  exist (``make -n``); ``demo`` and
                                                  ``check-gen`` are run for real; ``check``
                                                  (it runs this suite: CI runs it) and ``gen``
                                                  (it writes files) are only dry-run
    <!-- readme-test: paths -->                   a ``text`` picture: every path in it exists
    <!-- readme-test: install -->                 ``pip install`` lines (not run): each names
                                                  an extra of pyproject.toml, and every
                                                  published extra is named
    <!-- readme-test: background ready="..." -->  a shell block started in the background (a
                                                  second terminal); the session goes on once
                                                  its output shows ``ready``; at the end it
                                                  gets SIGINT (Ctrl-C) and must exit 0
    <!-- readme-test: expect="..." -->            (any number, with any runnable block) the
                                                  block's output must contain each string

Unmarked ``sh`` and ``python`` blocks run as they are. All runnable blocks run in order in one
bash session, in a temporary directory (with ``examples/`` linked in), as a reader would: shell
blocks inline, so their variables carry on; python blocks as ``python readme_block_N.py``. The
one rewrite: ``fabric-chat serve`` gets ``--port 0`` (tests never bind 8787), and the session
then exports ``FABRIC_CHAT_URL`` (which every command reads, default
``http://127.0.0.1:8787``) from the server's ``listening on`` line. A ``serve`` given its own
``--port N`` (several servers side by side) binds a free port instead, and ``127.0.0.1:N`` in
the shell blocks after it means the port it bound. The session has a fresh PostgreSQL database
in ``DATABASE_URL`` (the reader's own, in the README).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
STAMP = ".venv/.installed-stamp"
DEMO_STAMP = ".venv/.demo-stamp"
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
_WORD = re.compile(r"""(\w+)=(?:"([^"]*)"|'([^']*)')|(\w+)""")
_MAKE_LINE = re.compile(r"^make ([a-z][a-z-]*)\s*(?:#.*)?$")
#: make targets whose recipe is run for real (the others only dry-run; see the module doc).
RUN_TARGETS = {"demo": "done in ", "check-gen": ""}
DRY_RUN_ONLY = {"check", "gen", "venv", "docs"}
_MAKE_VARIABLES = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}


@dataclass
class Block:
    """One fenced code block of the README and what its marker says."""

    number: int
    line: int
    lang: str
    code: str
    flags: set[str] = field(default_factory=set)
    ready: str | None = None
    expects: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        """Whether the session runs this block."""
        return not self.flags & {"make", "paths", "install"}

    def where(self) -> str:
        """Where the block is, for messages."""
        return f"README.md:{self.line} (block {self.number})"


def parse_marker(block: Block, marker: str) -> None:
    """Apply a ``readme-test:`` marker's words to ``block``."""
    for name, double, single, flag in _WORD.findall(marker):
        if flag:
            assert flag in {"make", "paths", "install", "background"}, f"unknown marker {flag!r}"
            block.flags.add(flag)
        elif name == "expect":
            block.expects.append(double or single)
        elif name == "ready":
            block.ready = double or single
        else:
            raise AssertionError(f"unknown marker key {name!r}")


def parse_readme(text: str) -> list[Block]:
    """Return the README's fenced blocks, each with its marker applied."""
    assert "~~~" not in text, "use ``` fences only: the test reads those"
    lines = text.splitlines()
    blocks: list[Block] = []
    marker: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _MARKER.match(line.strip())
        if match:
            marker = match.group(1)
        elif line.startswith("```"):
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            block = Block(
                len(blocks) + 1,
                index + 1,
                line[3:].strip(),
                "\n".join(lines[index + 1 : end]) + "\n",
            )
            if marker is not None:
                parse_marker(block, marker)
            blocks.append(block)
            marker, index = None, end
        elif line.strip() and marker is not None:
            raise AssertionError(f"README.md:{index + 1}: a marker must sit right above a fence")
        index += 1
    return blocks


BLOCKS = parse_readme(README.read_text(encoding="utf-8"))


def make_targets(block: Block) -> list[str]:
    """Return the targets of a ``make`` block (every line must be ``make TARGET``)."""
    targets = []
    for line in block.code.splitlines():
        match = _MAKE_LINE.match(line.strip())
        assert match, f"{block.where()}: {line!r} is not 'make TARGET'"
        targets.append(match.group(1))
    return targets


def test_every_block_is_understood() -> None:
    assert BLOCKS, "no code blocks found"
    first = BLOCKS[0]
    assert first.flags == {"make"}, "the README opens with the make block"
    assert make_targets(first) == ["demo", "check"]
    for block in BLOCKS:
        if block.flags & {"make", "paths", "install"}:
            assert not block.expects, f"{block.where()}: nothing to expect from"
        if block.flags & {"paths", "install"}:
            assert block.lang == "text", block.where()
        elif "make" in block.flags:
            assert block.lang == "sh", block.where()
        else:
            assert block.lang in {"sh", "python"}, f"{block.where()}: cannot run {block.lang!r}"
        if "background" in block.flags:
            assert block.lang == "sh", block.where()
            assert block.ready, f"{block.where()}: a background block needs ready=..."
    runnable = [block for block in BLOCKS if block.runnable]
    assert {block.lang for block in runnable} == {"sh", "python"}


def test_install_lines_name_every_published_extra() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    (block,) = [block for block in BLOCKS if "install" in block.flags]
    named: list[str] = []
    for line in block.code.splitlines():
        match = re.fullmatch(r"pip install (fabric-chat|'fabric-chat\[(\w+)\]')\s+#.*", line)
        assert match, f"{block.where()}: {line!r}"
        named.append(match.group(2) or "")
    assert named[0] == "", "the first line installs the SDK alone"
    assert set(named[1:]) == extras
    assert "dev" not in extras


@pytest.mark.parametrize(
    "target",
    [target for block in BLOCKS if "make" in block.flags for target in make_targets(block)],
)
def test_make_lines_work(target: str) -> None:
    """Each target exists; ``demo`` and ``check-gen`` also run, the way make runs them."""
    # Run as if typed at a prompt, even when the suite itself runs under make (make check).
    env = {key: value for key, value in os.environ.items() if key not in _MAKE_VARIABLES}
    dry = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-o",
            STAMP,
            "-o",
            DEMO_STAMP,
            f"PY={sys.executable}",
            target,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    recipe = [line for line in dry.stdout.splitlines() if line.strip()]
    assert recipe, f"make {target} does nothing"
    if target in DRY_RUN_ONLY:
        return
    assert target in RUN_TARGETS, f"say whether 'make {target}' may run in a test"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(recipe)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert RUN_TARGETS[target] in done.stdout


def test_paths_in_pictures_exist() -> None:
    pictures = [block for block in BLOCKS if "paths" in block.flags]
    assert pictures
    for block in pictures:
        paths = re.findall(r"(?<![\w/])[\w.-]+/[\w./-]*", block.code)
        assert paths, block.where()
        for path in paths:
            assert (ROOT / path).exists(), f"{block.where()}: {path} does not exist"


def _session_script(blocks: list[Block], workdir: Path) -> str:
    """Write the python blocks to files and return the bash script of the whole session."""
    bin_dir = Path(sys.executable).parent
    lines = [
        "set -euo pipefail",
        "set -m  # background blocks get their own process group, as in a terminal",
        f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"',
        "bg_pids=()",
        'cleanup() { for p in "${bg_pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done; }',
        "trap cleanup EXIT",
        "wait_for() {  # FILE TEXT: wait (bounded) until FILE contains TEXT",
        '  for _ in $(seq 300); do grep -qF -- "$2" "$1" && return 0; sleep 0.05; done',
        '  echo "timed out waiting for \'$2\' in $1:"; cat "$1"; return 1',
        "}",
    ]
    waits: list[str] = []
    ports: list[str] = []
    for block in blocks:
        lines.append(f"printf '\\n::readme-block {block.number}::\\n'")
        if block.lang == "python":
            script = workdir / f"readme_block_{block.number}.py"
            script.write_text(block.code, encoding="utf-8")
            lines.append(f"python {script.name}")
            continue
        code = block.code
        for port in ports:  # a port chosen by the README: the one that server really bound
            code = code.replace(f"127.0.0.1:{port}", f"127.0.0.1:${{README_PORT_{port}}}")
        own_port = re.search(r"\bfabric-chat serve\b.*--port (\d+)", code)
        if own_port is not None:
            code = code.replace(f"--port {own_port.group(1)}", "--port 0")
        else:
            code = re.sub(r"\bfabric-chat serve\b", "fabric-chat serve --port 0", code)
        if "background" not in block.flags:
            lines.append(code)
            continue
        log = f"background_{block.number}.log"
        assert block.ready is not None
        lines += [
            f"( {code.strip()}\n) > {log} 2>&1 &",
            "bg_pids+=($!)",
            'echo "$!" >> background.pids',
            f"wait_for {log} {shlex.quote(block.ready)}",
        ]
        if own_port is not None:
            ports.append(own_port.group(1))
            lines.append(
                f"export README_PORT_{own_port.group(1)}="
                f"$(sed -n 's/^listening on http:[/][/]127.0.0.1://p' {log} | head -n 1)"
            )
        elif "fabric-chat serve" in code:
            lines.append(
                f"export FABRIC_CHAT_URL=$(sed -n 's/^listening on //p' {log} | head -n 1)"
            )
        waits += [f"wait_for {log} {shlex.quote(expect)}" for expect in block.expects]
    lines.append("printf '\\n::readme-end::\\n'")
    lines += waits
    lines += [
        "# Ctrl-C in each terminal, the last one opened first (the server last).",
        "for ((i = ${#bg_pids[@]} - 1; i >= 0; i--)); do",
        "  p=${bg_pids[i]}",
        '  kill -INT -- "-$p"',
        '  status=0; wait "$p" || status=$?',
        '  echo "::background-exit $p $status::"',
        "done",
    ]
    return "\n".join(lines) + "\n"


def _segments(output: str) -> dict[int, str]:
    parts = re.split(r"^::readme-block (\d+)::$", output.split("\n::readme-end::")[0], flags=re.M)
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_the_readme_runs_top_to_bottom(tmp_path: Path, postgres_dsn: str) -> None:
    blocks = [block for block in BLOCKS if block.runnable]
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    script = _session_script(blocks, tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith("FABRIC_CHAT_")}
    env["DATABASE_URL"] = postgres_dsn
    try:
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=100,
            check=False,
        )
    finally:  # if bash itself was killed, its background terminals must not outlive the test
        pids = tmp_path / "background.pids"
        for pid in pids.read_text().split() if pids.exists() else ():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
    output = done.stdout
    assert done.returncode == 0, output
    assert "Traceback" not in output, output
    segments = _segments(output)
    for block in blocks:
        if "background" in block.flags:
            continue  # its expectations were awaited in its own log by the script
        for expect in block.expects:
            assert expect in segments[block.number], f"{block.where()}: no {expect!r}:\n{output}"
    exits = re.findall(r"^::background-exit \d+ (\d+)::$", output, flags=re.M)
    assert exits == ["0"] * sum("background" in block.flags for block in blocks), output
