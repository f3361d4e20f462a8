"""Mutation testing: every seed rule's YAML tests must notice a slip in that rule.

For each rule, every mutant (see ``tests/rules/mutation.py``) is run against the test
files of its rule file; a mutant no case fails on means a behaviour of the rule that no
test pins down. Mutants that do not load (a change the checker rejects) prove nothing and
are not counted.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.rules.mutation import (
    RULES,
    Mutant,
    Verdict,
    files_testing,
    judge,
    mutants,
    report,
    rule_blocks,
)

# Mutants that cannot change what a rule does, each with the reason. Add one only with an
# argument why no event sequence can tell the mutant apart.
EQUIVALENT: dict[tuple[str, str], str] = {
    ("DEL-1-ETA", "`and` → `or`"): (
        "`where promised_date is present or eta is present`: when either is missing the "
        "`when` reads a missing value and does not fire, exactly as with `and`"
    ),
}


def _rule_index() -> dict[str, Path]:
    return {
        rule: path
        for path in sorted(RULES.glob("*.rule"))
        for rule, _, _ in rule_blocks(path.read_text(encoding="utf-8"))
    }


RULE_FILES = _rule_index()


@cache
def _verdicts(rule_file: Path) -> tuple[Verdict, ...]:
    files = files_testing(rule_file)
    text = rule_file.read_text(encoding="utf-8")
    return tuple(judge(m, rule_file, files) for m in mutants(text))


@pytest.mark.parametrize("rule", sorted(RULE_FILES))
def test_every_mutant_of_the_rule_is_killed(rule: str) -> None:
    verdicts = [v for v in _verdicts(RULE_FILES[rule]) if v.mutant.rule == rule]
    counted = [v for v in verdicts if v.outcome != "invalid"]
    survivors = [
        v
        for v in counted
        if v.outcome == "survived" and (rule, v.mutant.description) not in EQUIVALENT
    ]
    assert any(v.outcome == "killed" for v in counted), f"no mutant of {rule} was killed"
    assert survivors == [], "surviving mutants (a test is missing):\n" + report(survivors)


SAMPLE = """\
rule X-1 "sample" {
  severity warning   # a comment with >= and 7d
  on order.entered
  let cap = 100 CNY
  when event.amount >= cap and event.time - start > 7d
  message "never >= touched 5"
}
"""


def test_mutants_change_code_but_never_comments_or_text() -> None:
    found = {m.description: m for m in mutants(SAMPLE)}
    assert sorted(found) == sorted(
        [
            "`100 CNY` → `101 CNY`",
            "`100 CNY` → `99 CNY`",
            "`>=` → `<`",
            "`>` → `<=`",
            "`-` → `+`",
            "`7d` → `8d`",
            "`7d` → `6d`",
            "`and` → `or`",
            "`when C` → `when not (C)`",
        ]
    )
    flipped = found["`>=` → `<`"]
    assert "  when event.amount < cap and event.time - start > 7d\n" in flipped.text
    assert "# a comment with >= and 7d" in flipped.text
    negated = found["`when C` → `when not (C)`"].text
    assert "  when not (event.amount >= cap and event.time - start > 7d)\n" in negated


def test_a_rule_without_when_gets_when_false_and_plural_units_follow_the_number() -> None:
    text = (
        'rule A "a" {\n  on inventory.shortage\n  key order_id\n}\n'
        'rule B "b" {\n  after order.received\n  expect order.entered within 1 business hour\n'
        "  cancel on order.cancelled, order.rejected\n}\n"
    )
    by_rule: dict[str, list[Mutant]] = {}
    for m in mutants(text):
        by_rule.setdefault(m.rule, []).append(m)
    assert [m.description for m in by_rule["A"]] == ["no `when` → `when false`"]
    assert [m.description for m in by_rule["B"]] == [
        "`1 business hour` → `2 business hours`",
        "`order.cancelled` left out",
        "`order.rejected` left out",
    ]
    assert "within 2 business hours" in by_rule["B"][0].text
    assert "  cancel on order.cancelled\n" in by_rule["B"][2].text
