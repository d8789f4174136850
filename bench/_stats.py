"""Summary statistics and the run schedule every figure shares.

Every figure is the median of at least five runs after a warm-up, with min and max. Baseline and
SDK batches alternate (``a b``, ``b a``, ``a b``...) so that drift on a noisy machine cancels
out; a run keeps each side's best batch; ratios are taken per run, then summarised the same way.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "CpuClock",
    "Stat",
    "alternate",
    "alternate_sync",
    "percentile",
    "ratio_stat",
]


@dataclass(frozen=True, slots=True)
class Stat:
    """The median, min and max of one quantity over several runs.

    Attributes:
        median: The median over the runs.
        min: The smallest run.
        max: The largest run.
        unit: What the numbers count (``ms``, ``msg/s``, ``x``...).
        runs: How many runs were measured (warm-up excluded).
    """

    median: float
    min: float
    max: float
    unit: str
    runs: int

    @classmethod
    def of(cls, values: Sequence[float], unit: str) -> Stat:
        """Summarise ``values`` (one per run).

        Raises:
            ValueError: ``values`` is empty.
        """
        if not values:
            raise ValueError("no values to summarise")
        return cls(
            median=float(statistics.median(values)),
            min=float(min(values)),
            max=float(max(values)),
            unit=unit,
            runs=len(values),
        )

    def text(self, digits: int = 3) -> str:
        """Render as ``median [min-max] unit`` with ``digits`` significant digits."""
        low, high = _num(self.min, digits), _num(self.max, digits)
        return f"{_num(self.median, digits)} [{low}-{high}] {self.unit}"


def _num(value: float, digits: int) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


class CpuClock:
    """This process's CPU time per call, batch by batch (``time.process_time``).

    With the server in another process, this is the client's own cost of a call, which waiting
    and other processes barely disturb. The first batch (the warm-up) is dropped.
    """

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._started = 0.0

    def start(self) -> None:
        """Start timing a batch."""
        self._started = time.process_time()

    def stop(self, calls: int) -> None:
        """End the batch of ``calls`` calls and record microseconds per call."""
        self.samples.append((time.process_time() - self._started) / calls * 1e6)

    def stat(self) -> Stat:
        """The median, min and max per call over the measured batches."""
        return Stat.of(self.samples[1:] or self.samples, "µs")


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values`` by the nearest-rank method.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio_stat(numerators: Sequence[float], denominators: Sequence[float]) -> Stat:
    """Summarise the per-round ratios ``numerators[i] / denominators[i]``."""
    return Stat.of([n / d for n, d in zip(numerators, denominators, strict=True)], "x")


async def alternate(
    rounds: int,
    baseline: Callable[[], Awaitable[float]],
    subject: Callable[[], Awaitable[float]],
    *,
    warmup: int = 1,
    batches: int = 1,
    higher_is_better: bool = False,
) -> tuple[list[float], list[float]]:
    """Run ``baseline`` and ``subject`` in alternating order and collect their results.

    Each callable runs one batch and returns its measurement (seconds per call, a rate...).
    A round runs ``batches`` batches of each, alternating which goes first, and keeps each
    side's best batch (the one least disturbed by other processes, as ``timeit`` advises).
    Warm-up rounds run one batch of each and are dropped.

    Returns:
        The baseline's and the subject's measurements, one per round, in round order.
    """
    for _ in range(warmup):
        await baseline()
        await subject()
    best = max if higher_is_better else min
    base: list[float] = []
    subj: list[float] = []
    for index in range(rounds):
        base_batches: list[float] = []
        subj_batches: list[float] = []
        for batch in range(batches):
            if (index + batch) % 2 == 0:
                base_batches.append(await baseline())
                subj_batches.append(await subject())
            else:
                subj_batches.append(await subject())
                base_batches.append(await baseline())
        base.append(best(base_batches))
        subj.append(best(subj_batches))
    return base, subj


def alternate_sync(
    rounds: int,
    *contenders: Callable[[], float],
    warmup: int = 1,
) -> list[list[float]]:
    """Run each contender once per round, rotating the order, and collect their results.

    Returns:
        One list of measurements per contender, in the order given.
    """
    for _ in range(warmup):
        for run in contenders:
            run()
    results: list[list[float]] = [[] for _ in contenders]
    count = len(contenders)
    for index in range(rounds):
        for offset in range(count):
            which = (index + offset) % count
            results[which].append(contenders[which]())
    return results
