"""Layout, packaging and gates of issue 2: what ships, what does not, and how each gate runs."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATES = ("help", "gen", "check-gen", "lint", "type", "docs", "test", "check")


def test_layout_of_the_design() -> None:
    for path in (
        "spec/chat.yaml",
        "spec/README.md",
        "codegen/__main__.py",
        "codegen/spec.schema.json",
        "generated/fabric_chat/__init__.py",
        "generated/fabric_chat/py.typed",
        "runtime/fabric_chat_runtime/__init__.py",
        "server/fabric_chat_server/__init__.py",
        "cli/fabric_chat_cli/__init__.py",
        "tests",
        "Makefile",
        "pyproject.toml",
        ".ci/run",
    ):
        assert (ROOT / path).exists(), path


def test_one_distribution_ships_four_packages_and_not_the_generator() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [
        "generated/fabric_chat",
        "runtime/fabric_chat_runtime",
        "server/fabric_chat_server",
        "cli/fabric_chat_cli",
    ]
    assert project["project"]["scripts"] == {"fabric-chat": "fabric_chat_cli._launch:main"}
    assert sorted(project["project"]["dependencies"]) == ["aiohttp>=3.10", "msgspec>=0.19"]
    assert not any("codegen" in package for package in wheel["packages"])


def test_every_gate_creates_or_reuses_the_venv() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for gate in GATES:
        match = re.search(rf"^{re.escape(gate)}:(.*?)## ", makefile, re.MULTILINE)
        assert match is not None, gate
        if gate != "help":
            assert "$(STAMP)" in match.group(1) or gate == "check", gate
    assert re.search(r"^check: check-gen lint type docs test ", makefile, re.MULTILINE)
    assert "make check" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_make_help_lists_every_gate() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = {line.split()[1] for line in done.stdout.splitlines() if line.strip()}
    assert set(GATES) <= listed
