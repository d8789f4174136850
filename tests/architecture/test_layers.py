"""The arrows between the layers, read from the tree itself.

::

    cli (fabric_chat_cli) ──> fabric_chat (generated) ──> fabric_chat_runtime
    server (fabric_chat_server) ──> fabric_chat, fabric_chat_runtime.contract

The runtime imports neither the SDK package, the server nor the CLI, and names no field of a
chat model (the chat semantics are the SDK package's hand-written ``lib``); inside it, each
module imports only the modules listed below it on the architecture page
(``docsite/pages/architecture.md``, which lists every one). The server uses the generated
models and contract and, of the runtime, only the schema-free route descriptions (never the
client's machinery); the SDK package imports neither the server nor the CLI; the server never
imports the CLI (the command line is an extra of its own).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "fabric_chat": ROOT / "generated" / "fabric_chat",
    "fabric_chat_runtime": ROOT / "runtime" / "fabric_chat_runtime",
    "fabric_chat_server": ROOT / "server" / "fabric_chat_server",
    "fabric_chat_cli": ROOT / "cli" / "fabric_chat_cli",
}


def _sources(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def _imports(path: Path) -> set[str]:
    """Every absolute module ``path`` imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _ours(path: Path) -> set[str]:
    """The project's own top-level packages that ``path`` imports."""
    return {module.split(".")[0] for module in _imports(path)} & set(PACKAGES)


def test_every_package_is_where_the_layout_says() -> None:
    for root in PACKAGES.values():
        assert (root / "__init__.py").is_file(), root
        assert len(list(_sources(root))) >= 3, root


def test_the_runtime_imports_no_other_package_of_the_project() -> None:
    for path in _sources(PACKAGES["fabric_chat_runtime"]):
        assert _ours(path) <= {"fabric_chat_runtime"}, path


def test_the_sdk_package_imports_neither_the_server_nor_the_cli() -> None:
    for path in _sources(PACKAGES["fabric_chat"]):
        assert _ours(path) <= {"fabric_chat", "fabric_chat_runtime"}, path


def test_the_sdk_package_imports_no_private_runtime_module() -> None:
    """Generated code and ``lib`` use the runtime's public modules only."""
    for path in _sources(PACKAGES["fabric_chat"]):
        runtime = {m for m in _imports(path) if m.split(".")[0] == "fabric_chat_runtime"}
        assert not {m for m in runtime if any(p.startswith("_") for p in m.split("."))}, path


def test_the_server_uses_no_client_machinery_and_not_the_cli() -> None:
    """Of the runtime the server reads only the schema-free contract descriptions."""
    for path in _sources(PACKAGES["fabric_chat_server"]):
        assert "fabric_chat_cli" not in _ours(path), path
        runtime = {m for m in _imports(path) if m.split(".")[0] == "fabric_chat_runtime"}
        assert runtime <= {"fabric_chat_runtime.contract"}, path


def test_importing_the_cli_package_imports_nothing_optional() -> None:
    """The console script's launcher names a missing extra before anything needs it."""
    for name in ("__init__.py", "__main__.py", "_launch.py"):
        tops = {m.split(".")[0] for m in _imports(PACKAGES["fabric_chat_cli"] / name)}
        assert not tops & {"click", "rich", "jwt", "aiosqlite"}, name


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f() -> None:\n    from fabric_chat_server.runner import run_server\n", encoding="utf-8"
    )
    assert _ours(probe) == {"fabric_chat_server"}


def test_the_runtime_names_no_field_of_a_chat_model() -> None:
    """The chat semantics live in ``fabric_chat.lib``: no chat field name in runtime code."""
    from fabric_chat.models import Conversation, ConversationMessage, JoinConversationResponse

    chat_fields = {
        field
        for model in (ConversationMessage, Conversation, JoinConversationResponse)
        for field in model.__struct_fields__
    } - {"id", "ts", "type", "text", "metadata", "details", "name"}  # generic words
    assert {"group_id", "conversation_id", "subtype", "last_message_at"} <= chat_fields
    for path in _sources(PACKAGES["fabric_chat_runtime"]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg}
        assert not names & chat_fields, (path, names & chat_fields)


def _runtime_layers() -> list[str]:
    """The runtime's modules as ``docsite/pages/architecture.md`` lists them, top down."""
    text = (ROOT / "docsite" / "pages" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## The runtime, module by module", 1)[1]
    listing = section.split("```text\n", 1)[1].split("```", 1)[0]
    return re.findall(r"^(\w+)\.py +\S", listing, flags=re.MULTILINE)


def test_the_runtime_modules_are_layered_as_the_architecture_page_lists_them() -> None:
    """Every runtime module is listed once, and imports only modules listed below it."""
    layers = _runtime_layers()
    modules = {p.stem for p in _sources(PACKAGES["fabric_chat_runtime"])} - {"__init__"}
    assert sorted(layers) == sorted(modules)
    for rank, name in enumerate(layers):
        path = PACKAGES["fabric_chat_runtime"] / f"{name}.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module} if node.module else {a.name for a in node.names}
        assert imported <= set(layers[rank + 1 :]), (name, imported - set(layers[rank + 1 :]))
