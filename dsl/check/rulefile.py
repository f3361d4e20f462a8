"""The whole file and each rule in turn: the file's calendar, duplicate rule ids (E206),
clauses too deep to check (E104); per rule, the order of the checks and the warnings that
look at the whole rule (W301 unused let, W303/W304 responsible department)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace

from contract.assessment import DEPARTMENT_LABEL, DEPARTMENTS
from dsl import ast as a
from dsl.check import kinds, names
from dsl.check.clauses import Clauses
from dsl.check.report import CheckResult, Report
from dsl.check.scope import base_scope


def check(tree: a.RuleFile, calendars: Collection[str] | None = None) -> CheckResult:
    """Check a parsed file. ``calendars``: the known calendar names (None: not checked)."""
    report = Report(calendars)
    if tree.calendar is not None:
        names.calendar_name(report, tree.calendar.name)
    _duplicate_ids(report, tree.rules)
    for rule in tree.rules:
        _check_rule(report, _shallow(report, rule))
    return report.result()


def _duplicate_ids(report: Report, rules: Iterable[a.Rule]) -> None:
    seen: dict[str, a.Rule] = {}
    for rule in rules:
        first = seen.setdefault(rule.id.name, rule)
        if first is not rule:
            report.error(
                "E206",
                f"duplicate rule id {rule.id.name}",
                rule.id.span,
                f"also defined at line {first.id.span.line}; rule ids must be unique",
            )


def _shallow(report: Report, rule: a.Rule) -> a.Rule:
    """``rule`` without the clauses nested too deeply to check (each an E104).

    The parser already leaves them out; a tree built some other way is held to the same
    limit, so that checking never ends in a RecursionError.
    """
    kept: list[a.Clause] = []
    for clause in rule.clauses:
        message = a.too_deep(clause)
        if message is None:
            kept.append(clause)
            continue
        hint = "give parts of it a name with `let`, or split the rule"
        report.error("E104", message, clause.span, hint)
    return rule if len(kept) == len(rule.clauses) else replace(rule, clauses=tuple(kept))


def _check_rule(report: Report, rule: a.Rule) -> None:
    kind = kinds.rule_kind(report, rule)
    scope = base_scope(kind, rule, names.trigger_types(report, rule))
    clauses = Clauses(report, rule, kind)
    clauses.check(rule.clauses, scope)
    _department(report, rule)
    for name, span in clauses.let_spans.items():
        if name not in clauses.used_lets:
            report.warning(
                "W301",
                f"let {name} is never used",
                span,
                "its value is still shown in the alert's values",
            )


def _department(report: Report, rule: a.Rule) -> None:
    """The assessment ledger books a fine on the rule's responsible department: a rule
    with a penalty should name one (W303), and only a known one (W304)."""
    labels = kinds.find(rule.clauses, a.LabelClause)
    named = [c for c in labels if c.name.name == DEPARTMENT_LABEL]
    for clause in named:
        if clause.value.value not in DEPARTMENTS:
            report.warning(
                "W304",
                f"unknown department {clause.value.value!r}",
                clause.value.span,
                f"the departments are {', '.join(DEPARTMENTS)}",
            )
    tiers = kinds.find(rule.clauses, a.TierClause)
    penalties = kinds.find(rule.clauses, a.PenaltyClause)
    penalties += [p for t in tiers for p in kinds.find(t.clauses, a.PenaltyClause)]
    if penalties and not named:
        report.warning(
            "W303",
            f"rule {rule.id.name} has a penalty but names no responsible department",
            rule.id.span,
            'the ledger books its fines on no department; add `label department = "sales"` '
            f"(one of {', '.join(DEPARTMENTS)})",
        )
