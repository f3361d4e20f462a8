"""timeit-style measurement: several repeats of many loops, the median reported."""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Measurement:
    name: str
    ops_per_second: float  # evaluations per second, median over the repeats
    repeats: tuple[float, ...]  # seconds per repeat


def measure(
    name: str,
    evaluate: Callable[[T], object],
    inputs: Sequence[T],
    *,
    loops: int,
    repeats: int,
) -> Measurement:
    """Time ``evaluate`` over every input, ``loops`` times per repeat."""

    def run() -> None:
        for item in inputs:
            evaluate(item)

    run()  # warm caches and lazy imports before the clock starts
    times = timeit.Timer(run).repeat(repeat=repeats, number=loops)
    per_repeat = len(inputs) * loops
    return Measurement(name, per_repeat / statistics.median(times), tuple(times))
