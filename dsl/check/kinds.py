"""A rule's shape: its kind (event, deadline or schedule rule, from its trigger), and the
clauses each kind takes, needs, and takes only once (E208, E209, W302)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from dsl import ast as a
from dsl.check.report import Report

C = TypeVar("C")

_SINGLE = (
    a.SeverityClause,
    a.CalendarClause,
    a.OnClause,
    a.AfterClause,
    a.EveryClause,
    a.ForEachClause,
    a.WhereClause,
    a.WhenClause,
    a.ExpectClause,
    a.CancelClause,
    a.KeyClause,
    a.MessageClause,
    a.PenaltyClause,
)
_CLAUSE_WORD = {
    a.SeverityClause: "severity",
    a.LabelClause: "label",
    a.CalendarClause: "calendar",
    a.OnClause: "on",
    a.AfterClause: "after",
    a.EveryClause: "every",
    a.ForEachClause: "for each",
    a.WhereClause: "where",
    a.LetClause: "let",
    a.WhenClause: "when",
    a.ExpectClause: "expect",
    a.CancelClause: "cancel on",
    a.TierClause: "tier",
    a.KeyClause: "key",
    a.MessageClause: "message",
    a.PenaltyClause: "penalty",
}
# The clauses every rule may have; then what each kind of rule adds (and what a tier holds).
_COMMON = {a.SeverityClause, a.LabelClause, a.CalendarClause, a.LetClause, a.KeyClause}
_COMMON |= {a.MessageClause, a.PenaltyClause}
_ALLOWED: dict[str, set[type]] = {
    "event": _COMMON | {a.OnClause, a.WhereClause, a.WhenClause},
    "deadline": _COMMON
    | {a.AfterClause, a.WhereClause, a.ExpectClause, a.CancelClause, a.TierClause},
    "schedule": _COMMON | {a.EveryClause, a.ForEachClause, a.ExpectClause, a.CancelClause},
    "tier": {a.SeverityClause, a.LetClause, a.MessageClause, a.PenaltyClause},
}
_TRIGGERS = (("event", a.OnClause), ("deadline", a.AfterClause), ("schedule", a.EveryClause))


def find(clauses: Iterable[a.Clause], kind: type[C]) -> list[C]:
    """The clauses of one kind."""
    return [c for c in clauses if isinstance(c, kind)]


def rule_kind(report: Report, rule: a.Rule) -> str:
    """Check the rule's shape; its kind, "" when it has no trigger."""
    _singles(report, rule, rule.clauses)
    kind = _kind(report, rule)
    if kind:
        _allowed(report, rule, rule.clauses, kind)
        _required(report, rule, kind)
    return kind


def _singles(report: Report, rule: a.Rule, clauses: Iterable[a.Clause]) -> None:
    seen: set[type] = set()
    for clause in clauses:
        kind = type(clause)
        if kind in _SINGLE and kind in seen:
            word = _CLAUSE_WORD[kind]
            report.error(
                "E208", f"`{word}` given twice in rule {rule.id.name}", clause.span, "keep one"
            )
        seen.add(kind)


def _kind(report: Report, rule: a.Rule) -> str:
    kinds = [k for k, trigger in _TRIGGERS if find(rule.clauses, trigger)]
    if not kinds:
        report.error(
            "E209",
            f"rule {rule.id.name} has no trigger",
            rule.id.span,
            "add `on EVENT` (event rule), `after EVENT` (deadline rule) or "
            "`every month on day D at HH:MM` (schedule rule)",
        )
        return ""
    if len(kinds) > 1:
        second = next(c for c in rule.clauses if isinstance(c, a.AfterClause | a.EveryClause))
        report.error(
            "E208",
            "a rule has one of `on`, `after` or `every`",
            second.span,
            "split it into two rules",
        )
    return kinds[0]


def _allowed(report: Report, rule: a.Rule, clauses: Iterable[a.Clause], kind: str) -> None:
    for clause in clauses:
        if type(clause) not in _ALLOWED[kind]:
            word = _CLAUSE_WORD[type(clause)]
            where = "in a tier" if kind == "tier" else f"in a {kind} rule"
            report.error(
                "E208",
                f"`{word}` is not allowed {where}",
                clause.span,
                _allowed_hint(type(clause), kind),
            )
        if isinstance(clause, a.TierClause):
            _allowed(report, rule, clause.clauses, "tier")
            _singles(report, rule, clause.clauses)


def _allowed_hint(kind: type, rule_kind: str) -> str:
    if kind is a.WhenClause:
        return "deadline and schedule rules use `expect … where` instead of `when`"
    if kind is a.WhereClause and rule_kind == "schedule":
        return "a schedule rule has no trigger event: put the condition in `expect … where`"
    if rule_kind == "tier":
        return "a tier holds severity, let, message and penalty"
    return "see the clause table in docs/rules.md"


def _required(report: Report, rule: a.Rule, kind: str) -> None:
    tiers = find(rule.clauses, a.TierClause)
    for clause_kind, word in ((a.SeverityClause, "severity"), (a.MessageClause, "message")):
        in_every_tier = bool(tiers) and all(find(t.clauses, clause_kind) for t in tiers)
        if not find(rule.clauses, clause_kind) and not in_every_tier:
            _missing(report, rule, word, f"add `{word} …` to the rule (or to every tier)")
    if kind == "event" and not find(rule.clauses, a.KeyClause):
        report.warning(
            "W302",
            f"rule {rule.id.name} has no `key`: all its alerts are one alert",
            rule.id.span,
            "one order's event would resolve another order's alert; "
            "add `key order_id` (or the names that tell its alerts apart)",
        )
    expects = find(rule.clauses, a.ExpectClause)
    if kind in ("deadline", "schedule") and not expects:
        _missing(report, rule, "expect", "say which event ends the watch: `expect order.shipped …`")
    if kind == "schedule":
        _schedule_needs(report, rule, expects)
    if kind == "deadline" and expects:
        _deadline_needs(report, rule, expects[0], tiers)


def _missing(report: Report, rule: a.Rule, word: str, hint: str) -> None:
    report.error("E209", f"rule {rule.id.name} needs `{word}`", rule.id.span, hint)


def _deadline_needs(
    report: Report, rule: a.Rule, expect: a.ExpectClause, tiers: list[a.TierClause]
) -> None:
    """A deadline rule's deadline is given once: by `within`/`by`, or by its tiers."""
    timed = expect.within is not None or expect.by is not None
    if not timed and not tiers:
        hint = "give a time: `expect … within 1h`, `… by TIME` or `tier 7d { … }`"
        _missing(report, rule, "within", hint)
    if timed and tiers:
        report.error(
            "E208",
            "`within`/`by` and `tier` both give the deadline",
            expect.span,
            "keep one of them",
        )


def _schedule_needs(report: Report, rule: a.Rule, expects: list[a.ExpectClause]) -> None:
    if not find(rule.clauses, a.ForEachClause):
        _missing(report, rule, "for each", "add `for each region` or `for each model`")
    if expects and (expects[0].within or expects[0].by):
        report.error(
            "E208",
            "a schedule rule's deadline is its schedule",
            expects[0].span,
            "remove `within`/`by`",
        )
