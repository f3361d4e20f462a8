"""`python -m bench.rulefile`: how long `orderhub rules check` takes on a large rule file.

Issue 8 asks that a 5 MB rule file check "in seconds". The file is made of the seed rule
set (`rules/*.rule`) repeated with renamed ids until it reaches the size asked for: many
realistic rules, messages with templates, comments, one calendar. Each stage of the check
is timed once (process CPU time, so the figures say little about other load on the
machine) and shown with its share of the whole and its ratio to lark's own parse of the
file, the floor no change in `dsl/` can go below. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dsl.check import check
from dsl.compile import compile_file
from dsl.diagnostics import render_all
from dsl.parser import LARK, parse

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
CALENDARS = {"cn-mainland-2026"}
_RULE_ID = re.compile(r"^rule ([A-Za-z0-9_-]+)", re.MULTILINE)
_CALENDAR = re.compile(r'^calendar "[^"]*"\n', re.MULTILINE)

T = TypeVar("T")


def big_rule_file(size: int, rules_dir: Path = RULES_DIR) -> str:
    """The seed rules repeated, ids suffixed -1, -2 …, until the text has ``size`` bytes."""
    seed = "\n".join(
        _CALENDAR.sub("", p.read_text("utf-8")) for p in sorted(rules_dir.glob("*.rule"))
    )
    parts = ['calendar "cn-mainland-2026"\n']
    total, copy = 0, 0
    while total < size:
        copy += 1
        block = _RULE_ID.sub(rf"rule \1-{copy}", seed)
        parts.append(block)
        total += len(block.encode())
    return "".join(parts)


def _timed(label: str, rows: list[tuple[str, float]], work: Callable[[], T]) -> T:
    start = time.process_time()
    result = work()
    rows.append((label, time.process_time() - start))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rulefile", description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0, help="size of the rule file in MB")
    args = parser.parse_args(argv)
    text = big_rule_file(int(args.mb * 1_000_000))
    rows: list[tuple[str, float]] = []
    _timed("lark parse alone (the floor)", rows, lambda: LARK.parse(text, start="start"))
    floor = rows.pop()[1]
    parsed = _timed("parse (lark + AST)", rows, lambda: parse(text, "big.rule"))
    checked = _timed("check", rows, lambda: check(parsed.tree, CALENDARS))
    rules = _timed("compile", rows, lambda: compile_file(parsed.tree, checked))
    diags = [*parsed.diagnostics, *checked.diagnostics]
    _timed("render diagnostics", rows, lambda: render_all(diags, {"big.rule": text}))
    total = sum(seconds for _, seconds in rows)
    print(
        f"rule file: {len(text.encode()) / 1e6:.1f} MB, {len(rules)} rules, "
        f"{len(diags)} diagnostics; CPU seconds"
    )
    print(f"{'stage':<30}{'s':>8}{'share':>8}{'× lark':>8}")
    for label, seconds in [*rows, ("total", total)]:
        print(f"{label:<30}{seconds:>8.2f}{seconds / total:>8.0%}{seconds / floor:>8.2f}")
    print(f"{'lark parse alone (the floor)':<30}{floor:>8.2f}{'':>8}{1:>8.2f}")
    return 0 if not diags else 1


if __name__ == "__main__":
    sys.exit(main())
