"""``python -m codegen gen [--spec PATH] [--out DIR]`` writes; ``... check`` verifies;
``... diff OLD NEW`` lists the breaking and compatible changes between two specs (files or git
revisions) and exits 1 on a breaking one."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .checks import check_spec
from .diff import main_diff
from .loader import SpecError, SpecErrors, load_spec
from .render import HAND_WRITTEN, package_dir, render_all

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _spec_file(spec: Path) -> str:
    """Return how the banner names the spec: relative to the repository when inside it."""
    try:
        return spec.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return spec.name


def _render(spec: Path, root: Path) -> tuple[dict[str, str], tuple[str, ...]] | None:
    try:
        located = load_spec(spec)
        errors = check_spec(located)
    except SpecErrors as exc:
        errors = exc.errors
    except OSError as exc:
        errors = [SpecError(1, f"cannot read the spec: {exc.strerror}")]
    if errors:
        for error in errors:
            print(error.format(_display(spec)), file=sys.stderr)
        return None
    owned = (package_dir(located.data), "docs")
    return render_all(located.data, root, _spec_file(spec)), owned


def _existing(out: Path, owned_trees: tuple[str, ...]) -> dict[str, str]:
    """Return the files of the generated trees, without the package's hand-written ``lib/``."""
    found: dict[str, str] = {}
    for owned in owned_trees:
        base = out / owned
        if not base.exists():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.relative_to(base).parts[0] == HAND_WRITTEN:
                continue  # never written, never swept, never called stale
            found[path.relative_to(out).as_posix()] = path.read_text(encoding="utf-8")
    return found


def _stale(rendered: dict[str, str], out: Path, owned: tuple[str, ...]) -> list[str]:
    existing = _existing(out, owned)
    differ = {p for p in rendered.keys() | existing.keys() if rendered.get(p) != existing.get(p)}
    trees = {"generated/" if p.startswith("generated/") else "docs/" for p in differ}
    return [tree for tree in ("generated/", "docs/") if tree in trees]


def main(argv: list[str] | None = None) -> int:
    """Run the generator; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("command", choices=("gen", "check", "diff"))
    parser.add_argument("refs", nargs="*", help="diff: OLD and NEW (spec files or git revisions)")
    parser.add_argument("--spec", type=Path, default=ROOT / "spec" / "chat.yaml")
    parser.add_argument(
        "--out", type=Path, default=ROOT, help="the tree that holds generated/ and docs/"
    )
    args = parser.parse_args(argv)
    if args.command == "diff":
        if len(args.refs) != 2:
            parser.error("diff takes OLD and NEW")
        status, report = main_diff(args.refs[0], args.refs[1], ROOT)
        print(report, end="", file=sys.stderr if status == 2 else sys.stdout)
        return status
    if args.refs:
        parser.error(f"{args.command} takes no positional arguments")
    result = _render(args.spec, ROOT)
    if result is None:
        return 1
    rendered, owned = result
    out: Path = args.out
    if args.command == "check":
        stale = _stale(rendered, out, owned)
        if stale:
            print(f"{' and '.join(stale)} {'is' if len(stale) == 1 else 'are'} stale; run make gen")
            return 1
        return 0
    existing = _existing(out, owned)
    for path in sorted(existing.keys() - rendered.keys()):
        (out / path).unlink()
    for path, text in rendered.items():
        target = out / path
        if existing.get(path) != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
