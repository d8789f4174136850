"""``python -m bench [--only FIGURE] [--quick] [--json PATH]``: run the figures, print one table.

A full run writes ``bench/results/latest.json``; ``--only`` reruns some figures and updates
their entries in that file; ``--quick`` is the tiny smoke mode (a few iterations, numbers
meaningless) and writes JSON only when ``--json`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from . import (
    decode,
    deep_history,
    delivery,
    fanout,
    history,
    ingest,
    instances,
    memory,
    resume,
    send,
)
from ._results import FigureResult, machine_info, render_table, write_json

__all__ = ["FIGURES", "main"]

Figure = Callable[..., Awaitable[list[FigureResult]]]

#: Every figure, in table order: its name for ``--only`` and its ``run(quick=...)``.
FIGURES: dict[str, Figure] = {
    "decode": decode.run,
    "history": history.run,
    "send": send.run,
    "delivery": delivery.run,
    "fan-out": fanout.run,
    "deep-history": deep_history.run,
    "ingest": ingest.run,
    "resume": resume.run,
    "memory": memory.run,
    "instances": instances.run,
}

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"
DOC = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
_BEGIN, _END = "<!-- bench:table -->", "<!-- /bench:table -->"
#: No figure may take longer than this (seconds); a full run takes about five minutes.
FIGURE_LIMIT = {False: 240.0, True: 60.0}

METHOD = (
    "Each figure is the median of at least five runs after a warm-up run, with min and max. "
    "Within a run, baseline and SDK batches alternate (a b, b a, ...) and each side keeps its "
    "best batch; ratios are formed per run. The chat server runs in its own process "
    "(bench._serve: fabric-chat serve's run_server, rate limit off), bound to 127.0.0.1."
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(FIGURES),
        metavar="FIGURE",
        help=f"run only this figure (repeatable): {', '.join(FIGURES)}",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke mode")
    parser.add_argument("--json", type=Path, default=None, help=f"results file ({LATEST})")
    parser.add_argument(
        "--update-doc",
        action="store_true",
        help="also write the table into BENCHMARKS.md (between its bench:table markers)",
    )
    return parser.parse_args(argv)


async def _run(names: list[str], quick: bool) -> tuple[list[FigureResult], dict[str, str]]:
    results: list[FigureResult] = []
    errors: dict[str, str] = {}
    for name in names:
        started = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            async with asyncio.timeout(FIGURE_LIMIT[quick]):
                rows = await FIGURES[name](quick=quick)
        except Exception as exc:
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"bench: {name} FAILED", file=sys.stderr, flush=True)
            continue
        results.extend(rows)
        elapsed = time.perf_counter() - started
        print(f"bench: {name} done in {elapsed:.1f}s", file=sys.stderr, flush=True)
    return results, errors


def update_doc(path: Path, heading: str, table: str) -> None:
    """Replace the text between the ``bench:table`` markers of ``path`` with the new table.

    Raises:
        ValueError: The file has no markers.
    """
    text = path.read_text()
    start, end = text.find(_BEGIN), text.find(_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} has no {_BEGIN} ... {_END} section")
    fresh = f"{_BEGIN}\n{heading}\n\n{table}\n{_END}"
    path.write_text(text[:start] + fresh + text[end + len(_END) :])


def main(argv: list[str] | None = None) -> int:
    """Run the chosen figures, print the table and write the JSON; return the exit status.

    The status is 1 when a figure failed to run (a missed target is reported, not an error).
    """
    args = _parse(argv)
    names = [name for name in FIGURES if args.only is None or name in args.only]
    started = time.perf_counter()
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    results, errors = asyncio.run(_run(names, args.quick))
    duration = time.perf_counter() - started
    machine = machine_info()
    sqlite = next(
        (row.notes["sqlite"] for row in results if "sqlite" in row.notes),
        ingest.sqlite_settings(),
    )
    meta: dict[str, Any] = {
        "started_at": stamp,
        "duration_seconds": round(duration, 1),
        "quick": args.quick,
        "figures_run": names,
        "method": METHOD,
        "machine": machine,
        "sqlite": sqlite,
        "errors": errors,
    }
    path = args.json if args.json is not None else (None if args.quick else LATEST)
    if path is not None:
        write_json(path, results, meta=meta, merge=args.only is not None)
    heading = (
        f"fabric-chat benchmarks ({'quick' if args.quick else 'full'} run, {duration:.0f}s, "
        f"{stamp}) on {machine.get('cpu_count')} CPUs, "
        f"{machine.get('cpu_model', machine['machine'])}, Python {machine['python']}, "
        f"{machine['platform']}"
    )
    table = render_table(results)
    print(f"\n{heading}\n")
    print(table)
    postgres = next((row.notes["postgresql"] for row in results if "postgresql" in row.notes), None)
    if postgres is not None:  # the durability the PostgreSQL figures were measured with
        print("\nPostgreSQL: " + ", ".join(f"{key} {value}" for key, value in postgres.items()))
    for row in results:
        if "load average before / after" in row.notes:
            print(
                f"load average (1/5/15 min) before / after {row.figure}: "
                f"{row.notes['load average before / after']}"
            )
    if args.update_doc:
        update_doc(DOC, heading, table)
        print(f"\ntable written into {DOC}")
    if path is not None:
        print(f"\nwritten to {path}")
    for name, error in errors.items():
        print(f"\nfigure {name} failed: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
