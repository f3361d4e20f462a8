"""The large-file benchmark measures what it says: a file of realistic rules that checks
clean, so its figures are those of `orderhub rules check` on good rules."""

from __future__ import annotations

from bench.rulefile import CALENDARS, big_rule_file
from dsl.check import check
from dsl.parser import parse


def test_the_generated_file_is_the_seed_rules_renamed_and_checks_clean() -> None:
    text = big_rule_file(60_000)
    parsed = parse(text, "big.rule")
    checked = check(parsed.tree, CALENDARS)
    assert len(text.encode()) >= 60_000
    assert (parsed.diagnostics, tuple(checked.diagnostics)) == ((), ())
    ids = [r.id.name for r in parsed.tree.rules]
    assert len(ids) == len(set(ids)) and "CAP-1-1" in ids and "CAP-1-2" in ids
