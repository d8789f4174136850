"""Generation is deterministic, matches the committed tree, and ``check`` spots any drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.__main__ import main
from codegen.checks import check_spec
from codegen.loader import load_spec
from codegen.render import render_all

ROOT = Path(__file__).resolve().parents[2]


def test_rendering_twice_gives_identical_output(rendered: dict[str, str]) -> None:
    located = load_spec(ROOT / "spec" / "chat.yaml")
    assert check_spec(located) == []
    assert render_all(located.data, ROOT) == rendered


def test_committed_tree_is_current(rendered: dict[str, str]) -> None:
    for path, text in rendered.items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path} is stale; run make gen"


def test_every_expected_file_is_rendered(rendered: dict[str, str]) -> None:
    assert set(rendered) == {
        "generated/fabric_chat/__init__.py",
        "generated/fabric_chat/_namespaces.py",
        "generated/fabric_chat/client.py",
        "generated/fabric_chat/contract.py",
        "generated/fabric_chat/models.py",
        "generated/fabric_chat/py.typed",
        "docs/reference/chat.md",
        "docs/openapi.json",
        "docs/asyncapi.json",
    }


@pytest.fixture
def tree(tmp_path: Path, rendered: dict[str, str]) -> Path:
    """A temporary copy of the generated tree, as ``gen --out`` writes it."""
    assert main(["gen", "--out", str(tmp_path)]) == 0
    for path, text in rendered.items():
        assert (tmp_path / path).read_text(encoding="utf-8") == text
    return tmp_path


def test_check_passes_on_a_fresh_tree(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--out", str(tree)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            "generated/fabric_chat/models.py", "generated/ is stale; run make gen", id="py"
        ),
        pytest.param("docs/reference/chat.md", "docs/ is stale; run make gen", id="md"),
        pytest.param(
            "generated/fabric_chat/stray.py", "generated/ is stale; run make gen", id="extra"
        ),
    ],
)
def test_check_detects_a_hand_edit(
    tree: Path, edit: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tree / edit
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before + "# hand edit\n", encoding="utf-8")

    assert main(["check", "--out", str(tree)]) == 1
    assert capsys.readouterr().out == message + "\n"


def test_check_names_both_trees(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "docs" / "openapi.json").unlink()
    (tree / "generated" / "fabric_chat" / "client.py").write_text("", encoding="utf-8")
    assert main(["check", "--out", str(tree)]) == 1
    assert capsys.readouterr().out == "generated/ and docs/ are stale; run make gen\n"


def test_gen_restores_an_edited_tree(tree: Path, rendered: dict[str, str]) -> None:
    (tree / "generated" / "fabric_chat" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    shutil.rmtree(tree / "docs")
    assert main(["gen", "--out", str(tree)]) == 0
    assert main(["check", "--out", str(tree)]) == 0
    assert not (tree / "generated" / "fabric_chat" / "stray.py").exists()


def test_generated_and_generator_code_pass_ruff(root: Path) -> None:
    ruff = str(Path(sys.executable).with_name("ruff"))
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [ruff, *args, "generated", "codegen", "tests/codegen"],
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
