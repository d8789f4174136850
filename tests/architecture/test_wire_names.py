"""Each wire name has one definition: the generated ``fabric_chat._protocol`` module.

A JSON-RPC method name, an event name or an RPC error code written as a literal anywhere else
in the tree (the client runtime, the generated package, the server, the CLI, the tests, the
benchmarks, the examples, the generator) is a second definition, and this scan finds it.
Literals inside longer strings (a raw frame a test sends as bad input, a docstring) are text,
not definitions. The second spec's fixture server (``tests/codegen/library``) speaks that
spec's own vocabulary and is left out, and so is this file (its probes are literals).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from fabric_chat import _protocol
from fabric_chat.contract import CONTRACT

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "generated" / "fabric_chat" / "_protocol.py"
SCANNED = ("generated", "runtime", "server", "cli", "tests", "bench", "examples", "codegen")
LEFT_OUT = (ROOT / "tests" / "codegen" / "library", Path(__file__).resolve())

NAMES = {method.name for method in CONTRACT.rpc_methods} | {e.name for e in CONTRACT.events}
CODES = set(_protocol.RPC_ERROR_CODES)


def _sources() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" in path.parts or any(path.is_relative_to(p) for p in LEFT_OUT):
                continue
            yield path


def _definitions(path: Path) -> Iterator[tuple[object, int]]:
    """Every wire name or code written as a whole literal in ``path``, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    negated: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
        ):
            negated.add(id(node.operand))
            if -node.operand.value in CODES:
                yield -node.operand.value, node.lineno
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in negated:
            continue
        value = node.value
        if (isinstance(value, str) and value in NAMES) or (type(value) is int and value in CODES):
            yield value, node.lineno


def test_the_vocabulary_names_every_method_event_and_code_of_the_spec() -> None:
    assert "signalwire.connect" in NAMES
    assert "conversation.message" in NAMES
    assert -32002 in CODES
    assert _protocol.VOCABULARY.connect == _protocol.SIGNALWIRE_CONNECT


def test_each_wire_name_has_exactly_one_definition() -> None:
    found: dict[object, list[str]] = {}
    for path in _sources():
        for value, line in _definitions(path):
            found.setdefault(value, []).append(f"{path.relative_to(ROOT)}:{line}")
    where = str(DEFINITION.relative_to(ROOT))
    for value in NAMES | CODES:
        places = found.get(value, [])
        assert len(places) == 1, (value, places)
        assert places[0].startswith(where + ":"), (value, places)


def test_the_scan_sees_a_second_definition(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('METHOD = "signalwire.ping"\nCODE = -32003\nTEXT = "signalwire.ping!"\n')
    assert sorted(map(str, (v for v, _ in _definitions(probe)))) == ["-32003", "signalwire.ping"]
