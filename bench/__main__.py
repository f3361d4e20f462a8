"""`python -m bench` (`make bench`): CAP-1 evaluations per second against a hand-written
lambda, two figures per run (see ``bench.cap1``): the decision alone, like with like, and
the engine's whole path per event.
"""

from __future__ import annotations

import argparse
import platform
import sys

from bench.cap1 import Case, Evaluate, cases, decisions, disagreements, engine_paths, make_inputs
from bench.timing import Measurement, measure_all

# The compiled rule's decision should reach this fraction of the lambda's speed. Closures
# are the one evaluator (bench/README.md, "Choice"): a microsecond per rule against the
# live worker's ~1.5 ms per event; the target catches a closure that got much slower.
TARGET = 0.2
FIGURES = (
    (
        "1. decision: where + 4 lets + when, given (event, view, order) — like with like",
        decisions,
    ),
    (
        "2. engine path per event: order record + env + alert state (+ key, fingerprint and "
        "entry when an alert of the rule fires) + decision; no alert built",
        engine_paths,
    ),
)


def _table(results: list[Measurement]) -> str:
    reference = results[0].ops_per_second
    rows = [f"{'contender':<34}{'evaluations/s':>15}{'ns/eval':>10}{'× lambda':>10}"]
    for r in results:
        ns = 1e9 / r.ops_per_second
        ratio = r.ops_per_second / reference
        rows.append(f"{r.name:<34}{r.ops_per_second:>15,.0f}{ns:>10,.0f}{ratio:>10.2f}")
    return "\n".join(rows)


def _figure(
    title: str,
    evaluators: dict[str, Evaluate],
    timed: list[Case],
    probes: list[Case],
    args: argparse.Namespace,
) -> list[Measurement] | None:
    problems = disagreements(evaluators, probes)
    if problems:  # timing contenders that answer differently would compare nothing
        print("contenders disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
        return None
    results = measure_all(evaluators, timed, loops=args.loops, repeats=args.repeats)
    print(f"\n{title}\n{_table(results)}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--loops", type=int, default=200, help="passes over the inputs per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    parser.add_argument("--events", type=int, default=64, help="distinct order.entered events")
    args = parser.parse_args(argv)

    inputs = make_inputs(args.events)
    timed, probes = cases(inputs, inputs.events), cases(inputs, inputs.probes)
    fired = sum(isinstance(decisions(inputs)["hand-written lambda"](*c), tuple) for c in timed)
    print(
        f"CAP-1: {len(inputs.events)} order.entered events ({fired} at or over the cap), "
        f"{args.loops} loops × median of {args.repeats} repeats (contenders in turns), "
        f"Python {platform.python_version()}"
    )
    ratios = []
    for title, build in FIGURES:
        results = _figure(title, build(inputs), timed, probes, args)
        if results is None:
            return 1
        ratios.append(results[1].ops_per_second / results[0].ops_per_second)
    verdict = "met" if ratios[0] >= TARGET else "NOT met"
    print(
        f"\ntarget: compiled decision ≥ {TARGET:.2f}× the lambda — {verdict} ({ratios[0]:.2f}×); "
        f"whole engine path: {ratios[1]:.2f}× with no alert of the rule firing"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
