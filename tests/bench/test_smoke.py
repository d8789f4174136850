"""Smoke run of every benchmark in its tiny mode, so that the benchmarks cannot rot.

One ``python -m bench --quick`` subprocess runs every figure with a few iterations; the tests
check the shape of the table and of the JSON, and that every number is positive and finite.
No timing is asserted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

ROWS = {
    "decode": "decode",
    "history fetch": "history",
    "send (1 at a time)": "send",
    "send (32 in flight)": "send",
    "delivery latency": "delivery",
    "fan-out": "fan-out",
    "deep history": "deep-history",
    "ingest": "ingest",
    "ingest vs bare handler": "ingest",
    "send vs bare handler": "ingest",
    "resume": "resume",
    "memory (client)": "memory",
    "memory (server)": "memory",
    "instances": "instances",
    "cross-instance latency": "instances",
    "ingest (PostgreSQL)": "instances",
}
STAT_KEYS = {"median", "min", "max", "unit", "runs"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run every figure once in quick mode; return the printed table and the JSON."""
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done.stdout, json.loads(path.read_text())


def _check_stat(stat: dict[str, Any], where: str) -> None:
    assert set(stat) == STAT_KEYS, where
    for key in ("median", "min", "max"):
        value = stat[key]
        assert isinstance(value, float | int), where
        assert math.isfinite(value), where
        assert value > 0, where
    assert stat["min"] <= stat["median"] <= stat["max"], where
    assert stat["runs"] >= 1, where
    assert stat["unit"], where


def test_every_figure_ran(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    assert results["errors"] == {}
    assert results["quick"] is True
    assert [row["figure"] for row in results["figures"]] == list(ROWS)
    assert set(results["figures_run"]) == set(ROWS.values())


def test_machine_and_sqlite_are_recorded(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, results = quick_run
    machine = results["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"].startswith("3.")
    assert machine["platform"]
    assert results["sqlite"]["journal_mode"] == "WAL"
    assert results["sqlite"]["synchronous"]


@pytest.mark.parametrize("figure", list(ROWS))
def test_figure_shape(quick_run: tuple[str, dict[str, Any]], figure: str) -> None:
    _, results = quick_run
    row = next(row for row in results["figures"] if row["figure"] == figure)
    assert row["what"]
    assert row["target"]
    _check_stat(row["value"], f"{figure}: value")
    assert row["baseline"] is not None
    _check_stat(row["baseline"], f"{figure}: baseline")
    if row["target"].startswith("report"):
        assert row["met"] in (True, False, None)
    else:
        assert isinstance(row["met"], bool)
        assert row["ratio"] is not None
        assert row["ratio_meaning"]
    if row["ratio"] is not None:
        _check_stat(row["ratio"], f"{figure}: ratio")
    for name, stat in row["extra"].items():
        _check_stat(stat, f"{figure}: {name}")


def test_table_has_one_row_per_figure(quick_run: tuple[str, dict[str, Any]]) -> None:
    table, _ = quick_run
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| figure | what it measures | result | baseline | ratio |")
    named = [line.split("|")[1].strip() for line in lines[1:]]
    assert [name for name in named if name] == list(ROWS)


def test_only_updates_its_own_entries(
    quick_run: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    _, results = quick_run
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(results))
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "decode", "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    merged = json.loads(path.read_text())
    assert [row["figure"] for row in merged["figures"]] == list(ROWS)
    assert merged["figures_run"] == ["decode"]
