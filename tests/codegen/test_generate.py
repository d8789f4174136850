"""Generation is deterministic, matches the committed tree, and ``check`` spots any drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import jinja2.meta
import pytest

from codegen.__main__ import main
from codegen.build import build_ir
from codegen.checks import check_spec
from codegen.ir import PackageIR
from codegen.loader import load_spec
from codegen.render import _environment, render_all

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
        "generated/fabric_chat/_protocol.py",
        "generated/fabric_chat/project.py",
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


def test_templates_see_only_the_ir_under_strict_undefined() -> None:
    env = _environment()
    assert env.undefined is jinja2.StrictUndefined
    assert (env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline) == (True, True, True)
    # `structs` is datamodel-code-generator's rendering of the IR's objects (codegen/structs.py).
    allowed = {"ir", "banner", "spec_file", "schemas", "paths", "ref", "structs"}
    templates = sorted((ROOT / "codegen" / "templates").glob("*.j2"))
    assert len(templates) == 12
    for path in templates:
        assert env.loader is not None
        source = env.loader.get_source(env, path.name)[0]
        free = jinja2.meta.find_undeclared_variables(env.parse(source))
        assert free <= allowed, (path.name, free - allowed)
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ ir.no_such_field }}").render(ir=object())


def test_the_ir_is_typed_and_ordered_as_the_spec() -> None:
    located = load_spec(ROOT / "spec" / "chat.yaml")
    ir = build_ir(located.data)
    assert isinstance(ir, PackageIR)
    assert [obj.name for obj in ir.objects] == list(located.data["objects"])
    assert [route.operation_id for route in ir.routes] == list(located.data["operations"])
    chat = ir.client.namespaces[0]
    spec_methods = [m.py_name for m in chat.methods if m.twin_of is None]
    assert spec_methods == list(located.data["namespaces"]["chat"]["methods"])
    # Each paged method is followed by its generated iter_ twin.
    assert [m.py_name for m in chat.methods][:2] == ["get_messages", "iter_messages"]
    assert chat.methods[1].twin_of == "get_messages"
    get_messages = chat.methods[0]
    assert get_messages.signature == (
        "address_id: str, page_size: int = 10, timeout: float | None = None"
    )
    assert get_messages.returns == "Page[ConversationChatMessage]"
    assert get_messages.returns_refs == (
        ("Page", "page"),
        ("ConversationChatMessage", "the-conversationchatmessage-object"),
    )
    models = next(
        line for group in ir.imports["_namespaces"] for line in group if line.module == ".models"
    )
    assert models.names == tuple(sorted(models.names))
    assert "ConversationChatMessage" in models.names


def test_the_hand_written_lib_is_never_written_swept_or_stale(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``generated/fabric_chat/lib/`` holds hand-written code beside the generated modules."""
    lib = tree / "generated" / "fabric_chat" / "lib"
    lib.mkdir(exist_ok=True)
    hand = lib / "hand_written.py"
    hand.write_text('"""Hand-written."""\n', encoding="utf-8")
    assert main(["check", "--out", str(tree)]) == 0
    assert main(["gen", "--out", str(tree)]) == 0
    assert hand.read_text(encoding="utf-8") == '"""Hand-written."""\n'
    assert main(["check", "--out", str(tree)]) == 0
    assert capsys.readouterr().out == ""
