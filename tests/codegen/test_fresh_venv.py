"""One distribution installs all four packages, editable too, into a fresh environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_editable_install_in_a_fresh_venv_imports_all_four(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # Offline and fast: the dependencies (msgspec, aiohttp) and the build backend come from the
    # development environment, put on the fresh venv's path; pip installs the project itself.
    (purelib / "_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--quiet", "-e", str(ROOT)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    assert any(purelib.glob("*fabric_chat*.pth")), sorted(p.name for p in purelib.iterdir())
    probe = (
        "import fabric_chat, fabric_chat_runtime, fabric_chat_server, fabric_chat_cli\n"
        "from fabric_chat import AsyncClient, ConversationChatMessage\n"
        "from fabric_chat.contract import CONTRACT\n"
        "assert CONTRACT.route('sendMessage').status == 201\n"
        "for m in (fabric_chat, fabric_chat_runtime, fabric_chat_server, fabric_chat_cli):\n"
        "    print(m.__file__)\n"
    )
    done = subprocess.run(
        [str(python), "-I", "-c", probe], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        str(ROOT / "generated" / "fabric_chat" / "__init__.py"),
        str(ROOT / "runtime" / "fabric_chat_runtime" / "__init__.py"),
        str(ROOT / "server" / "fabric_chat_server" / "__init__.py"),
        str(ROOT / "cli" / "fabric_chat_cli" / "__init__.py"),
    ]
