"""timeit-style measurement: several repeats of many loops, the median reported.

The contenders take turns within each repeat (round robin) rather than running their
repeats one after the other, so that a change of machine load in the middle of a run
affects them alike and their ratios stay comparable.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    name: str
    ops_per_second: float  # evaluations per second, median over the repeats
    repeats: tuple[float, ...]  # seconds per repeat


def _runner(
    evaluate: Callable[..., object], inputs: Sequence[tuple[Any, ...]]
) -> Callable[[], None]:
    # Every input is a tuple of arguments: contenders are called as they would be used.
    def run() -> None:
        for item in inputs:
            evaluate(*item)

    return run


def measure_all(
    contenders: Mapping[str, Callable[..., object]],
    inputs: Sequence[tuple[Any, ...]],
    *,
    loops: int,
    repeats: int,
) -> list[Measurement]:
    """Time each contender over every input, ``loops`` times per repeat, in turns."""
    timers = {name: timeit.Timer(_runner(fn, inputs)) for name, fn in contenders.items()}
    for timer in timers.values():
        timer.timeit(number=1)  # warm caches and lazy imports before the clock starts
    times: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer.timeit(number=loops))
    per_repeat = len(inputs) * loops
    return [
        Measurement(name, per_repeat / statistics.median(t), tuple(t)) for name, t in times.items()
    ]
