"""`python -m bench` (`make bench`): CAP-1 evaluations per second, four ways, one run.

The compiled rule is timed through the engine's own code for one event and one event rule
(the order record, the environment, the key, `where`, the lets, `when`); see ``bench.cap1``
for what is in and out of each contender's evaluation.
"""

from __future__ import annotations

import argparse
import platform
import sys

from bench.cap1 import Inputs, contenders, disagreements, make_inputs, stages
from bench.timing import Measurement, measure_all

TARGET = 0.8  # the compiled rule should reach this fraction of the hand-written speed
WHAT = (
    "compiled = engine code per event: order record + shared env; per rule: key, "
    "bind env, where, 4 lets (kept for the alert), when.\n"
    "All contenders get the event and a StateView; no alert is built."
)


def _table(results: list[Measurement]) -> str:
    reference = results[0].ops_per_second
    rows = [f"{'contender':<28}{'evaluations/s':>16}{'× lambda':>10}"]
    for r in results:
        rows.append(f"{r.name:<28}{r.ops_per_second:>16,.0f}{r.ops_per_second / reference:>10.2f}")
    return "\n".join(rows)


def _breakdown(inputs: Inputs, loops: int, repeats: int, lambda_ns: float) -> str:
    """Nanoseconds per evaluation of the compiled contender's stages, cumulative."""
    results = measure_all(stages(inputs), inputs.events, loops=loops, repeats=repeats)
    rows = [f"{'compiled CAP-1, built up':<28}{'ns/eval':>16}{'step':>10}"]
    before = 0.0
    for r in results:
        ns = 1e9 / r.ops_per_second
        rows.append(f"{r.name:<28}{ns:>16,.0f}{ns - before:>+10,.0f}")
        before = ns
    rows.append(f"{'(hand-written lambda)':<28}{lambda_ns:>16,.0f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--loops", type=int, default=200, help="passes over the inputs per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported")
    parser.add_argument("--events", type=int, default=64, help="distinct order.entered events")
    parser.add_argument(
        "--breakdown", action="store_true", help="also time the compiled path step by step"
    )
    args = parser.parse_args(argv)

    inputs = make_inputs(args.events)
    evaluators = contenders(inputs)
    problems = disagreements(evaluators, inputs.probes)
    if problems:  # timing contenders that answer differently would compare nothing
        print("contenders disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    fired = sum(evaluators["hand-written lambda"](e) for e in inputs.events)
    results = measure_all(evaluators, inputs.events, loops=args.loops, repeats=args.repeats)
    print(
        f"CAP-1: {len(inputs.events)} order.entered events ({fired} at or over the cap), "
        f"{args.loops} loops × median of {args.repeats} repeats (contenders in turns), "
        f"Python {platform.python_version()}"
    )
    print(WHAT)
    print(_table(results))
    ratio = results[1].ops_per_second / results[0].ops_per_second
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target: compiled ≥ {TARGET:.2f}× the lambda — {verdict} ({ratio:.2f}×)")
    if args.breakdown:
        print()
        print(_breakdown(inputs, args.loops, args.repeats, 1e9 / results[0].ops_per_second))
    return 0


if __name__ == "__main__":
    sys.exit(main())
