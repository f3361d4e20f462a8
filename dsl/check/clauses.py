"""Each clause of a rule against its scope: the values it names (severity, calendar,
`for each`, `every`, `key`) and the types its expressions must have (`when`, `where`,
`expect`, `let`, `penalty`, message templates); E203, E207, W300."""

from __future__ import annotations

from collections.abc import Iterable

from dsl import ast as a
from dsl import schema as s
from dsl.check import calls, names
from dsl.check.report import Report
from dsl.check.scope import Scope, anything
from dsl.check.types import Types


class Clauses:
    """Checks the clauses of one rule of kind ``kind`` ("" when it has no valid trigger)."""

    def __init__(self, report: Report, rule: a.Rule, kind: str) -> None:
        self.report = report
        self.rule = rule
        self.kind = kind
        self.used_lets: set[str] = set()
        self.let_spans: dict[str, a.Span] = {}  # each let worth a W301 → where it is defined
        self.types = Types(report, self.used_lets)

    def check(self, clauses: Iterable[a.Clause], scope: Scope) -> None:
        """Check ``clauses`` in order; the lets they define join ``scope``."""
        inner = scope.inside(self.kind in ("deadline", "schedule"))
        for clause in clauses:
            self._clause(clause, scope, inner)

    def _clause(self, clause: a.Clause, scope: Scope, inner: Scope) -> None:
        match clause:
            case a.SeverityClause(level=level):
                self._severity(level)
            case a.CalendarClause(name=name):
                names.calendar_name(self.report, name)
            case a.ForEachClause(name=name):
                self._for_each(name)
            case a.KeyClause(names=idents):
                names.keys(self.report, idents, scope, self.kind)
            case a.EveryClause(day=day):
                calls.day_of_month(self.report, day)
            case a.WhereClause(cond=cond):
                self._condition("where", cond, scope.without_lets())
            case a.WhenClause(cond=cond):
                self._condition("when", cond, inner)
                if isinstance(cond, a.Bool) and not cond.value:
                    self.report.warning("W300", f"rule {self.rule.id.name} never fires", cond.span)
            case a.LetClause():
                self._let(clause, inner)
            case a.ExpectClause():
                self._expect(clause, inner)
            case a.MessageClause(template=template):
                self._template(template, inner)
            case a.PenaltyClause(amount=amount, who=who):
                self._typed(amount, inner, s.MONEY, "a penalty amount", "e.g. 200 CNY")
                self._typed(who, inner, s.TEXT, "who pays a penalty", 'e.g. "region manager"')
            case a.TierClause(clauses=clauses):
                # A tier inside a tier was reported (E208) and is not checked further.
                subs = [sub for sub in clauses if not isinstance(sub, a.TierClause)]
                self.check(subs, inner.own_lets())
            case _:
                pass

    def _severity(self, level: a.Ident) -> None:
        if level.name not in s.SEVERITIES:
            hint = names.did_you_mean(level.name, s.SEVERITIES) or "use info, warning or critical"
            self.report.error("E207", f"unknown severity '{level.name}'", level.span, hint)

    def _for_each(self, name: a.Ident) -> None:
        if name.name not in ("region", "model"):
            self.report.error(
                "E207",
                f"cannot run a schedule for each '{name.name}'",
                name.span,
                "use `for each region` or `for each model`",
            )

    def _let(self, clause: a.LetClause, scope: Scope) -> None:
        ty = self.types.infer(clause.value, scope)
        if names.define_let(self.report, clause, ty, scope):
            self.let_spans.setdefault(clause.name.name, clause.name.span)

    def _expect(self, clause: a.ExpectClause, scope: Scope) -> None:
        if clause.where is not None:
            known = tuple(t.name for t in clause.types if t.name in s.EVENT_TYPES)
            if len(known) == len(clause.types):
                expected = scope.with_event(known)
            else:  # unknown types were reported
                expected = anything(scope.lets)
            self._condition("expect … where", clause.where, expected)
        if clause.by is not None:
            self._typed(
                clause.by,
                scope.without_deadline(),
                s.TIME,
                "`by`",
                "use start_of_day(DATE) or end_of_day(DATE) for a date",
            )

    def _template(self, template: a.Template, scope: Scope) -> None:
        for part in template.parts:
            if not isinstance(part, str):
                self.types.infer(part, scope)

    def _condition(self, word: str, cond: a.Expr, scope: Scope) -> None:
        self._typed(cond, scope, s.BOOL, f"`{word}`", "a condition: a comparison, `and`, …")

    def _typed(self, e: a.Expr, scope: Scope, want: str, what: str, hint: str) -> None:
        """``e`` must have type ``want``: E203 naming ``what`` when it has another."""
        ty = self.types.infer(e, scope)
        if ty.name not in (want, s.UNKNOWN):
            self.report.error("E203", f"{what} must be {want}, not {ty.name}", e.span, hint)
