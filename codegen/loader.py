"""Load the spec's YAML into plain data, remembering the line of every key and item.

Errors anywhere in the generator are reported as ``spec/chat.yaml:LINE: what is wrong``; this
module keeps the map from a data path (keys and indexes) to its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "LineMap", "SpecError", "SpecErrors", "load_spec"]

Location = tuple[str | int, ...]


@dataclass(frozen=True, order=True, slots=True)
class SpecError:
    """One thing wrong with the spec, at a line of its file."""

    line: int
    message: str

    def format(self, filename: str) -> str:
        """Return ``FILE:LINE: message``."""
        return f"{filename}:{self.line}: {self.message}"


class SpecErrors(Exception):
    """The spec is broken; ``errors`` says where and how."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the spec")
        self.errors = sorted(set(errors))


@dataclass(slots=True)
class LineMap:
    """Lines of the data paths of one YAML document (1-based)."""

    lines: dict[Location, int] = field(default_factory=dict)

    def line(self, path: Location) -> int:
        """Return the line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return 1


@dataclass(frozen=True, slots=True)
class Located:
    """The spec's data and the line of every path in it."""

    data: dict[str, Any]
    lines: LineMap


def _to_data(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Location,
    lines: LineMap,
    errors: list[SpecError],
) -> Any:
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            text = key if isinstance(key, str) else str(key)
            line = key_node.start_mark.line + 1
            if text in result:
                errors.append(SpecError(line, f"duplicate key {text!r}"))
                continue
            lines.lines[(*path, text)] = line
            result[text] = _to_data(loader, value_node, (*path, text), lines, errors)
        return result
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item in enumerate(node.value):
            lines.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_to_data(loader, item, (*path, index), lines, errors))
        return items
    return loader.construct_object(node, deep=True)


def load_spec(path: Path) -> Located:
    """Read the spec at ``path``, keeping line numbers.

    Raises:
        SpecErrors: The file is not YAML, not a mapping, or repeats a key.
    """
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SpecErrors([SpecError(line, f"not valid YAML: {exc.problem or exc}")]) from exc
    finally:
        loader.dispose()
    if not isinstance(node, yaml.MappingNode):
        raise SpecErrors([SpecError(1, "the spec must be a YAML mapping")])
    lines = LineMap({(): 1})
    errors: list[SpecError] = []
    try:
        data = _to_data(loader, node, (), lines, errors)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SpecErrors([SpecError(line, f"not valid YAML: {exc.problem or exc}")]) from exc
    if errors:
        raise SpecErrors(errors)
    return Located(data, lines)
