"""What a figure reports, the table ``make bench`` prints, and ``bench/results/latest.json``."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._stats import Stat

__all__ = ["FigureResult", "machine_info", "render_table", "write_json"]


@dataclass(slots=True)
class FigureResult:
    """One row of the table: a headline measurement, its baseline and the target.

    Attributes:
        figure: The figure's name (``history fetch``).
        what: What it measures, in a few words.
        target: The target as written in the issue (``report`` when there is none).
        value: The headline measurement of our code.
        baseline: The same work without the SDK (or the reference it is compared with).
        ratio: Per-round ratio that the target is about (``None`` when it has none).
        ratio_meaning: How the ratio is formed (``sdk time / raw time``).
        met: Whether the target is met; ``None`` for a report-only figure.
        extra: Further measurements (percentiles, other baselines...).
        notes: Settings and facts needed to read the figure (sizes, counts, SQLite...).
    """

    figure: str
    what: str
    target: str
    value: Stat
    baseline: Stat | None = None
    ratio: Stat | None = None
    ratio_meaning: str = ""
    met: bool | None = None
    extra: dict[str, Stat] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> list[Stat]:
        """Every number of the row, for checks that they are positive and finite."""
        found = [self.value, *self.extra.values()]
        found += [stat for stat in (self.baseline, self.ratio) if stat is not None]
        return found

    def to_json(self) -> dict[str, Any]:
        """Return the row as plain JSON data."""
        return asdict(self)


def _met(value: bool | None) -> str:
    if value is None:
        return "report"
    return "met" if value else "**MISSED**"


def render_table(results: list[FigureResult]) -> str:
    """Return the results as one Markdown table (one row per figure, extras below it)."""
    header = "| figure | what it measures | result | baseline | ratio | target | met |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in results:
        ratio = "" if row.ratio is None else f"{row.ratio.text()} ({row.ratio_meaning})"
        baseline = "" if row.baseline is None else row.baseline.text()
        lines.append(
            f"| {row.figure} | {row.what} | {row.value.text()} | {baseline} | {ratio} "
            f"| {row.target} | {_met(row.met)} |"
        )
        for name, stat in row.extra.items():
            lines.append(f"| | ↳ {name} | {stat.text()} | | | | |")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """Return what the numbers ran on: CPUs, memory, Python, platform."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_mb"] = int(line.split()[1]) // 1024
                break
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:  # pragma: no cover - not Linux
        pass
    return info


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def write_json(
    path: Path, results: list[FigureResult], *, meta: dict[str, Any], merge: bool
) -> None:
    """Write the results (and ``meta``) to ``path``.

    With ``merge``, figures already in the file and not rerun now are kept, so that rerunning one
    figure alone updates its entry only.
    """
    figures = [row.to_json() for row in results]
    if merge and path.exists():
        try:
            earlier = json.loads(path.read_text())
        except (OSError, ValueError):
            earlier = {}
        fresh = {row.figure for row in results}
        kept = [row for row in earlier.get("figures", []) if row.get("figure") not in fresh]
        order = [row.get("figure") for row in earlier.get("figures", [])]
        merged = kept + figures
        merged.sort(key=lambda row: order.index(row["figure"]) if row["figure"] in order else 99)
        figures = merged
    payload = {**meta, "figures": figures}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_finite(payload), indent=2, sort_keys=False) + "\n")
