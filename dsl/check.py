"""Names, types and units of a parsed rule file (E2xx, W3xx).

``check`` never stops at the first problem: every rule and every clause is checked and all
diagnostics come back sorted by position, each with its span and, for an unknown name, the
names that are valid at that place (did-you-mean). Types never need a run time: the
compiler uses the ``types`` map this returns.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from contract.assessment import DEPARTMENT_LABEL, DEPARTMENTS
from dsl import ast as a
from dsl import schema as s
from dsl.builtins import BUILTINS
from dsl.diagnostics import Diagnostic, sort_diagnostics
from dsl.schema import Ty

_ORDERED = {s.NUMBER, s.MONEY, s.PERCENT, s.DURATION, s.TIME, s.DATE, s.TIME_OF_DAY}
_ORDERED |= {s.WEEKDAY, s.MONTH, s.UNKNOWN}
_COMPARE_HINTS = {
    frozenset({s.MONEY, s.NUMBER}): "write the amount with its currency, e.g. 500000 CNY",
    frozenset({s.PERCENT, s.NUMBER}): "write the fraction as a percent, e.g. 30%",
    frozenset({s.DATE, s.TIME}): "use date(TIME) to compare with a date",
    frozenset({s.DURATION, s.NUMBER}): "write the number with its unit, e.g. 7d or 3h",
    frozenset({s.MONTH, s.TEXT}): 'a month is written "2026-12"; use next_month(…)',
}
# (left, op, right) -> result; `*` also accepts the operands swapped.
_ARITH: dict[tuple[str, str, str], str] = {
    (s.NUMBER, "+", s.NUMBER): s.NUMBER,
    (s.MONEY, "+", s.MONEY): s.MONEY,
    (s.DURATION, "+", s.DURATION): s.DURATION,
    (s.PERCENT, "+", s.PERCENT): s.PERCENT,
    (s.TIME, "+", s.DURATION): s.TIME,
    (s.TIME, "+", s.BUSINESS_DURATION): s.TIME,
    (s.NUMBER, "-", s.NUMBER): s.NUMBER,
    (s.MONEY, "-", s.MONEY): s.MONEY,
    (s.DURATION, "-", s.DURATION): s.DURATION,
    (s.PERCENT, "-", s.PERCENT): s.PERCENT,
    (s.TIME, "-", s.DURATION): s.TIME,
    (s.TIME, "-", s.TIME): s.DURATION,
    (s.NUMBER, "*", s.NUMBER): s.NUMBER,
    (s.PERCENT, "*", s.MONEY): s.MONEY,
    (s.PERCENT, "*", s.NUMBER): s.NUMBER,
    (s.MONEY, "*", s.NUMBER): s.MONEY,
    (s.DURATION, "*", s.NUMBER): s.DURATION,
    (s.NUMBER, "/", s.NUMBER): s.NUMBER,
    (s.MONEY, "/", s.NUMBER): s.MONEY,
    (s.DURATION, "/", s.NUMBER): s.DURATION,
}
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
# Which clauses each kind of rule takes (and what a tier may hold).
_ALLOWED: dict[str, set[type]] = {
    "event": {
        a.SeverityClause,
        a.LabelClause,
        a.CalendarClause,
        a.OnClause,
        a.WhereClause,
        a.LetClause,
        a.WhenClause,
        a.KeyClause,
        a.MessageClause,
        a.PenaltyClause,
    },
    "deadline": {
        a.SeverityClause,
        a.LabelClause,
        a.CalendarClause,
        a.AfterClause,
        a.WhereClause,
        a.LetClause,
        a.ExpectClause,
        a.CancelClause,
        a.TierClause,
        a.KeyClause,
        a.MessageClause,
        a.PenaltyClause,
    },
    "schedule": {
        a.SeverityClause,
        a.LabelClause,
        a.CalendarClause,
        a.EveryClause,
        a.ForEachClause,
        a.LetClause,
        a.ExpectClause,
        a.CancelClause,
        a.KeyClause,
        a.MessageClause,
        a.PenaltyClause,
    },
    "tier": {a.SeverityClause, a.LetClause, a.MessageClause, a.PenaltyClause},
}


@dataclass(frozen=True)
class CheckResult:
    diagnostics: tuple[Diagnostic, ...]
    types: Mapping[object, Ty]  # every expression node of the file → its type

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


@dataclass
class Scope:
    """What names mean at one place of a rule."""

    event_types: tuple[str, ...] | None  # None: no `event` here
    no_event_why: str = ""
    order: bool = False
    no_order_why: str = ""
    keys: frozenset[str] = frozenset()
    start: bool = False
    deadline: bool = False
    lets: dict[str, Ty] = field(default_factory=dict)

    def with_event(self, types: tuple[str, ...]) -> Scope:
        order = all(s.has_order(t) for t in types)
        keys = frozenset(k for k in s.KEY_NAMES if all(k in s.event_fields(t) for t in types))
        return Scope(
            types,
            "",
            order,
            _no_order_why(types),
            keys | self.keys,
            self.start,
            self.deadline,
            dict(self.lets),
        )


def _no_order_why(types: Iterable[str]) -> str:
    lacking = [t for t in types if not s.has_order(t)]
    return f"{lacking[0]} has no order_id" if lacking else ""


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(options)), n=3, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def check(tree: a.RuleFile, calendars: Collection[str] | None = None) -> CheckResult:
    """Check a parsed file. ``calendars``: the known calendar names (None: not checked)."""
    checker = _Checker(calendars)
    cal = tree.calendar
    if cal is not None:
        checker.calendar_name(cal.name)
    seen: dict[str, a.Rule] = {}
    for rule in tree.rules:
        if rule.id.name in seen:
            first = seen[rule.id.name]
            checker.error(
                "E206",
                f"duplicate rule id {rule.id.name}",
                rule.id.span,
                f"also defined at line {first.id.span.line}; rule ids must be unique",
            )
        else:
            seen[rule.id.name] = rule
        _RuleChecker(checker, checker.shallow(rule)).run()
    return CheckResult(tuple(sort_diagnostics(checker.diags)), checker.types)


class _Checker:
    """Diagnostics and types of one file."""

    def __init__(self, calendars: Collection[str] | None) -> None:
        self.calendars = calendars
        self.diags: list[Diagnostic] = []
        self.types: dict[object, Ty] = {}

    def error(self, code: str, message: str, span: a.Span, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint))

    def warning(self, code: str, message: str, span: a.Span, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint, "warning"))

    def shallow(self, rule: a.Rule) -> a.Rule:
        """``rule`` without the clauses nested too deeply to check (each an E104).

        The parser already leaves them out; a tree built some other way is held to the
        same limit, so that checking never ends in a RecursionError.
        """
        kept: list[a.Clause] = []
        for clause in rule.clauses:
            message = a.too_deep(clause)
            if message is None:
                kept.append(clause)
                continue
            hint = "give parts of it a name with `let`, or split the rule"
            self.error("E104", message, clause.span, hint)
        return rule if len(kept) == len(rule.clauses) else replace(rule, clauses=tuple(kept))

    def calendar_name(self, name: a.Text) -> None:
        if self.calendars is not None and name.value not in self.calendars:
            hint = did_you_mean(name.value, self.calendars) or (
                "known calendars: " + (", ".join(sorted(self.calendars)) or "none")
            )
            self.error("E205", f"unknown calendar '{name.value}'", name.span, hint)

    def event_types(self, types: tuple[a.EventType, ...]) -> tuple[str, ...]:
        known: list[str] = []
        for t in types:
            if t.name in s.EVENT_TYPES:
                known.append(t.name)
            else:
                hint = did_you_mean(t.name, s.EVENT_TYPES)
                self.error("E200", f"unknown event type '{t.name}'", t.span, hint)
        return tuple(known)


class _RuleChecker:
    def __init__(self, checker: _Checker, rule: a.Rule) -> None:
        self.c = checker
        self.rule = rule
        self.kind = ""
        self.used_lets: set[str] = set()
        self.let_spans: dict[str, a.Span] = {}

    def run(self) -> None:
        rule = self.rule
        self._singles(rule.clauses, rule.id.span)
        self.kind = self._kind()
        if self.kind:
            self._allowed(rule.clauses, self.kind)
            self._required()
        triggers = self._triggers()
        base = self._base_scope(triggers)
        for clause in rule.clauses:
            self._clause(clause, base)
        self._department()
        for name, span in self.let_spans.items():
            if name not in self.used_lets:
                self.c.warning(
                    "W301",
                    f"let {name} is never used",
                    span,
                    "its value is still shown in the alert's values",
                )

    def _department(self) -> None:
        """The assessment ledger books a fine on the rule's responsible department: a rule
        with a penalty should name one (W303), and only a known one (W304)."""
        rule = self.rule
        labels = [c for c in self._find(a.LabelClause) if isinstance(c, a.LabelClause)]
        named = [c for c in labels if c.name.name == DEPARTMENT_LABEL]
        for clause in named:
            if clause.value.value not in DEPARTMENTS:
                self.c.warning(
                    "W304",
                    f"unknown department {clause.value.value!r}",
                    clause.value.span,
                    f"the departments are {', '.join(DEPARTMENTS)}",
                )
        tiers = [c for c in self._find(a.TierClause) if isinstance(c, a.TierClause)]
        penalties = self._find(a.PenaltyClause) + [
            p for t in tiers for p in self._find(a.PenaltyClause, t.clauses)
        ]
        if penalties and not named:
            self.c.warning(
                "W303",
                f"rule {rule.id.name} has a penalty but names no responsible department",
                rule.id.span,
                'the ledger books its fines on no department; add `label department = "sales"` '
                f"(one of {', '.join(DEPARTMENTS)})",
            )

    # --- structure
    def _singles(self, clauses: Iterable[a.Clause], where: a.Span) -> None:
        seen: set[type] = set()
        for clause in clauses:
            kind = type(clause)
            if kind in _SINGLE and kind in seen:
                word = _CLAUSE_WORD[kind]
                self.c.error(
                    "E208",
                    f"`{word}` given twice in rule {self.rule.id.name}",
                    clause.span,
                    "keep one",
                )
            seen.add(kind)

    def _find(self, kind: type, clauses: Iterable[a.Clause] | None = None) -> list[a.Clause]:
        return [
            c for c in (self.rule.clauses if clauses is None else clauses) if isinstance(c, kind)
        ]

    def _kind(self) -> str:
        kinds = [
            k
            for k, t in (
                ("event", a.OnClause),
                ("deadline", a.AfterClause),
                ("schedule", a.EveryClause),
            )
            if self._find(t)
        ]
        if not kinds:
            self.c.error(
                "E209",
                f"rule {self.rule.id.name} has no trigger",
                self.rule.id.span,
                "add `on EVENT` (event rule), `after EVENT` (deadline rule) or "
                "`every month on day D at HH:MM` (schedule rule)",
            )
            return ""
        if len(kinds) > 1:
            second = next(
                c for c in self.rule.clauses if isinstance(c, a.AfterClause | a.EveryClause)
            )
            self.c.error(
                "E208",
                "a rule has one of `on`, `after` or `every`",
                second.span,
                "split it into two rules",
            )
        return kinds[0]

    def _allowed(self, clauses: Iterable[a.Clause], kind: str) -> None:
        for clause in clauses:
            if type(clause) not in _ALLOWED[kind]:
                word = _CLAUSE_WORD[type(clause)]
                where = "in a tier" if kind == "tier" else f"in a {kind} rule"
                self.c.error(
                    "E208",
                    f"`{word}` is not allowed {where}",
                    clause.span,
                    _allowed_hint(type(clause), kind),
                )
            if isinstance(clause, a.TierClause):
                self._allowed(clause.clauses, "tier")
                self._singles(clause.clauses, clause.span)

    def _required(self) -> None:
        rule, span = self.rule, self.rule.id.span
        tiers = [c for c in rule.clauses if isinstance(c, a.TierClause)]
        expects = [c for c in rule.clauses if isinstance(c, a.ExpectClause)]

        def missing(word: str, hint: str) -> None:
            self.c.error("E209", f"rule {rule.id.name} needs `{word}`", span, hint)

        for kind, word in ((a.SeverityClause, "severity"), (a.MessageClause, "message")):
            if not self._find(kind) and not (
                tiers and all(self._find(kind, t.clauses) for t in tiers)
            ):
                missing(word, f"add `{word} …` to the rule (or to every tier)")
        if self.kind == "event" and not self._find(a.KeyClause):
            self.c.warning(
                "W302",
                f"rule {rule.id.name} has no `key`: all its alerts are one alert",
                span,
                "one order's event would resolve another order's alert; "
                "add `key order_id` (or the names that tell its alerts apart)",
            )
        if self.kind in ("deadline", "schedule") and not expects:
            missing("expect", "say which event ends the watch: `expect order.shipped …`")
        if self.kind == "schedule" and not self._find(a.ForEachClause):
            missing("for each", "add `for each region` or `for each model`")
        if self.kind == "deadline" and expects:
            timed = expects[0].within is not None or expects[0].by is not None
            if not timed and not tiers:
                missing(
                    "within", "give a time: `expect … within 1h`, `… by TIME` or `tier 7d { … }`"
                )
            if timed and tiers:
                self.c.error(
                    "E208",
                    "`within`/`by` and `tier` both give the deadline",
                    expects[0].span,
                    "keep one of them",
                )
        if self.kind == "schedule" and expects and (expects[0].within or expects[0].by):
            self.c.error(
                "E208",
                "a schedule rule's deadline is its schedule",
                expects[0].span,
                "remove `within`/`by`",
            )

    def _triggers(self) -> tuple[str, ...] | None:
        """Check every event-type list; the trigger types (None for schedule rules)."""
        triggers: tuple[str, ...] | None = None
        for clause in self.rule.clauses:
            if isinstance(clause, a.OnClause | a.AfterClause | a.CancelClause | a.ExpectClause):
                known = self.c.event_types(clause.types)
                if isinstance(clause, a.OnClause | a.AfterClause) and triggers is None:
                    triggers = known if len(known) == len(clause.types) else None
        return triggers

    def _base_scope(self, triggers: tuple[str, ...] | None) -> Scope:
        for_each = self._find(a.ForEachClause)
        if self.kind == "schedule":
            keys = frozenset(c.name.name for c in for_each if isinstance(c, a.ForEachClause))
            return Scope(
                None,
                "a schedule rule has no trigger event",
                False,
                "a schedule rule has no order",
                keys,
                True,
                True,
            )
        if triggers is None:
            # Unknown trigger types were reported: accept any event field from here on.
            return Scope(None, "", True, "", frozenset(s.KEY_NAMES), True, True)
        scope = Scope(None).with_event(triggers)
        return scope

    # --- clauses
    def _clause(self, clause: a.Clause, scope: Scope) -> None:
        deadline_rule = self.kind in ("deadline", "schedule")
        inner = Scope(**{**scope.__dict__, "start": deadline_rule, "deadline": deadline_rule})
        inner.lets = scope.lets  # lets accumulate across the rule's clauses
        match clause:
            case a.SeverityClause(level=level):
                if level.name not in s.SEVERITIES:
                    hint = did_you_mean(level.name, s.SEVERITIES) or "use info, warning or critical"
                    self.c.error("E207", f"unknown severity '{level.name}'", level.span, hint)
            case a.CalendarClause(name=name):
                self.c.calendar_name(name)
            case a.ForEachClause(name=name):
                if name.name not in ("region", "model"):
                    self.c.error(
                        "E207",
                        f"cannot run a schedule for each '{name.name}'",
                        name.span,
                        "use `for each region` or `for each model`",
                    )
            case a.KeyClause(names=names):
                self._keys(names, scope)
            case a.EveryClause(day=day):
                if not 1 <= day.value <= 28:
                    self.c.error(
                        "E207",
                        f"day {day.text} is not in every month",
                        day.span,
                        "use a day from 1 to 28",
                    )
            case a.WhereClause(cond=cond):
                self._condition("where", cond, Scope(**{**scope.__dict__, "lets": {}}))
            case a.WhenClause(cond=cond):
                self._condition("when", cond, inner)
                if isinstance(cond, a.Bool) and not cond.value:
                    self.c.warning("W300", f"rule {self.rule.id.name} never fires", cond.span)
            case a.LetClause():
                self._let(clause, inner)
            case a.ExpectClause():
                self._expect(clause, inner)
            case a.MessageClause(template=template):
                self._template(template, inner)
            case a.PenaltyClause(amount=amount, who=who):
                self._expect_type(amount, inner, s.MONEY, "a penalty amount", "e.g. 200 CNY")
                self._expect_type(who, inner, s.TEXT, "who pays a penalty", 'e.g. "region manager"')
            case a.TierClause(clauses=clauses):
                tier_scope = Scope(**{**inner.__dict__, "lets": dict(scope.lets)})
                for sub in clauses:
                    if not isinstance(sub, a.TierClause):
                        self._clause(sub, tier_scope)
            case _:
                pass

    def _keys(self, names: tuple[a.Ident, ...], scope: Scope) -> None:
        for ident in names:
            if ident.name not in s.KEY_NAMES:
                hint = did_you_mean(ident.name, s.KEY_NAMES) or "key names: order_id, region, model"
                self.c.error("E202", f"'{ident.name}' is not a key name", ident.span, hint)
            elif self.kind == "schedule" and ident.name not in scope.keys:
                self.c.error(
                    "E208",
                    f"a schedule rule for each {', '.join(scope.keys) or '…'} "
                    f"cannot be keyed by {ident.name}",
                    ident.span,
                )
            elif ident.name not in scope.keys and not scope.order and scope.event_types:
                self.c.error(
                    "E201",
                    f"{scope.event_types[0]} has no field {ident.name}",
                    ident.span,
                    "key by fields every trigger event has",
                )

    def _let(self, clause: a.LetClause, scope: Scope) -> None:
        name = clause.name.name
        ty = self._infer(clause.value, scope)
        if name in scope.lets:
            self.c.error(
                "E208",
                f"let {name} is defined twice",
                clause.name.span,
                "give the second one another name",
            )
        elif name in (*s.KEY_NAMES, "event", "order", "start", "deadline", *s.WEEKDAYS):
            self.c.error(
                "E208",
                f"let {name} would hide the built-in name {name}",
                clause.name.span,
                "choose another name",
            )
        scope.lets[name] = ty.required() if ty.name != s.UNKNOWN else ty
        if ty.name != s.UNKNOWN:  # a let with an error needs no second diagnostic
            self.let_spans.setdefault(name, clause.name.span)

    def _expect(self, clause: a.ExpectClause, scope: Scope) -> None:
        if clause.where is not None:
            known = tuple(t.name for t in clause.types if t.name in s.EVENT_TYPES)
            if len(known) == len(clause.types):
                expected = scope.with_event(known)
            else:  # unknown types were reported: accept any field from here on
                expected = Scope(None, "", True, "", frozenset(s.KEY_NAMES), True, True)
                expected.lets = dict(scope.lets)
            self._condition("expect … where", clause.where, expected)
        if clause.by is not None:
            by_scope = Scope(**{**scope.__dict__, "deadline": False})
            self._expect_type(
                clause.by,
                by_scope,
                s.TIME,
                "`by`",
                "use start_of_day(DATE) or end_of_day(DATE) for a date",
            )

    def _template(self, template: a.Template, scope: Scope) -> None:
        for part in template.parts:
            if not isinstance(part, str):
                self._infer(part, scope)

    def _condition(self, word: str, cond: a.Expr, scope: Scope) -> None:
        self._expect_type(cond, scope, s.BOOL, f"`{word}`", "a condition: a comparison, `and`, …")

    def _expect_type(self, e: a.Expr, scope: Scope, want: str, what: str, hint: str) -> None:
        ty = self._infer(e, scope)
        if ty.name not in (want, s.UNKNOWN):
            self.c.error("E203", f"{what} must be {want}, not {ty.name}", e.span, hint)

    # --- expressions
    def _infer(self, e: a.Expr, scope: Scope) -> Ty:
        ty = self._infer_node(e, scope)
        self.c.types[e] = ty
        return ty

    def _infer_node(self, e: a.Expr, scope: Scope) -> Ty:
        match e:
            case a.Number():
                return Ty(s.NUMBER)
            case a.Money():
                return Ty(s.MONEY)
            case a.Percent():
                return Ty(s.PERCENT)
            case a.DurationLit(business=business):
                return Ty(s.BUSINESS_DURATION if business else s.DURATION)
            case a.TimeOfDay():
                return Ty(s.TIME_OF_DAY)
            case a.Text():
                return Ty(s.TEXT)
            case a.Bool():
                return Ty(s.BOOL)
            case a.Group(inner=inner):
                return self._infer(inner, scope)
            case a.Name():
                return self._name(e, scope)
            case a.Lookup():
                return self._lookup(e, scope)
            case a.Call():
                return self._call(e, scope)
            case a.Unary():
                return self._unary(e, scope)
            case a.Presence(operand=operand):
                ty = self._infer(operand, scope)
                if not ty.optional and ty.name != s.UNKNOWN:
                    word = "present" if e.present else "missing"
                    self.c.error(
                        "E203",
                        f"`is {word}` needs a value that may be missing",
                        e.span,
                        "this value is always there",
                    )
                return Ty(s.BOOL)
            case a.Binary():
                return self._binary(e, scope)
        return Ty(s.UNKNOWN)  # pragma: no cover - every node kind is matched above

    def _unknown(self, code: str, message: str, span: a.Span, hint: str | None) -> Ty:
        self.c.error(code, message, span, hint)
        return Ty(s.UNKNOWN)

    def _name(self, e: a.Name, scope: Scope) -> Ty:
        head, rest = e.parts[0], e.parts[1:]
        if head == "event" and len(rest) == 1:
            return self._event_field(e, rest[0], scope)
        if head == "order" and len(rest) == 1:
            return self._order_field(e, rest[0], scope)
        if rest:
            if e.dotted in s.TABLES:
                hint = f"a table needs a key: {e.dotted}[…]"
                return self._unknown("E202", f"'{e.dotted}' is a table", e.span, hint)
            valid = [*s.TABLES, "event.…", "order.…"]
            return self._unknown(
                "E202", f"unknown name '{e.dotted}'", e.span, did_you_mean(e.dotted, valid)
            )
        if head in scope.lets:
            self.used_lets.add(head)
            return scope.lets[head]
        if head in s.KEY_NAMES and (head in scope.keys or scope.order):
            return Ty(s.TEXT)
        if head in ("start", "deadline") and getattr(scope, head):
            return Ty(s.TIME)
        if head in s.WEEKDAYS:
            return Ty(s.WEEKDAY)
        return self._unknown("E202", f"unknown name '{head}'", e.span, self._name_hint(head, scope))

    def _name_hint(self, head: str, scope: Scope) -> str | None:
        if head in ("event", "order"):
            return f"write {head}.FIELD"
        if head in ("start", "deadline"):
            return f"`{head}` is known in deadline and schedule rules (not in their `where`)"
        if head in s.KEY_NAMES:
            return f"the trigger events have no {head}"
        valid = [*scope.lets, *scope.keys, *s.WEEKDAYS]
        valid += [n for n in ("start", "deadline") if getattr(scope, n)]
        return did_you_mean(head, valid) or (
            f"names here: {', '.join(sorted(valid))}" if scope.lets else None
        )

    def _event_field(self, e: a.Name, name: str, scope: Scope) -> Ty:
        if scope.event_types is None:
            if scope.no_event_why:
                hint = "`event` is the expected event inside `expect … where`"
                return self._unknown("E202", f"no event here: {scope.no_event_why}", e.span, hint)
            return Ty(s.UNKNOWN)
        fields = [s.event_fields(t) for t in scope.event_types]
        lacking = [t for t, f in zip(scope.event_types, fields, strict=True) if name not in f]
        if lacking:
            common = set.intersection(*(set(f) for f in fields)) if fields else set()
            hint = did_you_mean(name, common) or f"fields: {', '.join(sorted(common))}"
            return self._unknown("E201", f"unknown field '{name}' of {lacking[0]}", e.span, hint)
        types = [f[name] for f in fields]
        optional = any(t.optional for t in types)
        return Ty(types[0].name, optional, types[0].choices)

    def _order_field(self, e: a.Name, name: str, scope: Scope) -> Ty:
        if not scope.order:
            why = scope.no_order_why or "no order here"
            return self._unknown(
                "E202",
                f"no order record here: {why}",
                e.span,
                "`order` is the record of the event's order_id",
            )
        if name not in s.ORDER_FIELDS:
            hint = did_you_mean(name, s.ORDER_FIELDS)
            return self._unknown("E201", f"unknown field '{name}' of order", e.span, hint)
        return s.ORDER_FIELDS[name]

    def _lookup(self, e: a.Lookup, scope: Scope) -> Ty:
        keys = [self._infer(k, scope) for k in e.keys]
        name = ".".join(e.table)
        table = s.TABLES.get(name)
        if table is None:
            return self._unknown(
                "E202", f"unknown table '{name}'", e.span, did_you_mean(name, s.TABLES)
            )
        if len(keys) != len(table.keys):
            want = ", ".join(table.keys)
            return self._unknown(
                "E204", f"{name} takes {len(table.keys)} key(s): [{want}]", e.span, None
            )
        for key, ty in zip(e.keys, keys, strict=True):
            if ty.name not in (s.TEXT, s.UNKNOWN):
                self.c.error("E203", f"a table key must be text, not {ty.name}", key.span)
        return Ty(s.NUMBER)

    def _call(self, e: a.Call, scope: Scope) -> Ty:
        args = [self._infer(arg, scope) for arg in e.args]
        fn = BUILTINS.get(e.func)
        if fn is None:
            return self._unknown(
                "E204", f"unknown function '{e.func}'", e.span, did_you_mean(e.func, BUILTINS)
            )
        too_many = len(args) > len(fn.params) and not fn.variadic
        if len(args) < fn.required or too_many:
            return self._unknown(
                "E204", f"wrong number of arguments to {e.func}", e.span, f"use {fn.arity_text()}"
            )
        for i, (arg, ty) in enumerate(zip(e.args, args, strict=True)):
            want = fn.params[min(i, len(fn.params) - 1)]
            if s.MONTH in want and _is_month_text(arg):
                self.c.types[arg] = Ty(s.MONTH)
            elif ty.name not in want and ty.name != s.UNKNOWN:
                self.c.error(
                    "E203",
                    f"argument {i + 1} of {e.func} must be "
                    f"{' or '.join(sorted(want))}, not {ty.name}",
                    arg.span,
                )
        self._literal_args(e)
        return Ty(fn.result)

    def _literal_args(self, e: a.Call) -> None:
        if e.func == "signed_by":
            for arg, valid, what in zip(
                e.args, (s.ROLES, s.DOCUMENTS), ("role", "document"), strict=False
            ):
                if not isinstance(arg, a.Text):
                    self.c.error(
                        "E207",
                        f"the {what} of signed_by must be written in quotes",
                        arg.span,
                        f"{what}s: {', '.join(valid)}",
                    )
                elif arg.value not in valid:
                    hint = did_you_mean(arg.value, valid) or f"{what}s: {', '.join(valid)}"
                    self.c.error("E207", f"unknown {what} '{arg.value}'", arg.span, hint)
        if e.func == "monthly_deadline" and len(e.args) > 1:
            day = e.args[1]
            if isinstance(day, a.Number) and not 1 <= day.value <= 28:
                self.c.error(
                    "E207",
                    f"day {day.text} is not in every month",
                    day.span,
                    "use a day from 1 to 28",
                )

    def _unary(self, e: a.Unary, scope: Scope) -> Ty:
        ty = self._infer(e.operand, scope)
        if e.op == "not":
            if ty.name not in (s.BOOL, s.UNKNOWN):
                self.c.error("E203", f"`not` needs a condition, not {ty.name}", e.operand.span)
            return Ty(s.BOOL)
        if ty.name not in (s.NUMBER, s.MONEY, s.PERCENT, s.DURATION, s.UNKNOWN):
            return self._unknown("E203", f"cannot negate {ty.name}", e.span, None)
        return ty.required()

    def _binary(self, e: a.Binary, scope: Scope) -> Ty:
        left, right = self._infer(e.left, scope), self._infer(e.right, scope)
        if e.op in ("and", "or"):
            for side, ty in ((e.left, left), (e.right, right)):
                if ty.name not in (s.BOOL, s.UNKNOWN):
                    self.c.error("E203", f"`{e.op}` needs conditions, not {ty.name}", side.span)
            return Ty(s.BOOL)
        if s.UNKNOWN in (left.name, right.name):
            return Ty(s.BOOL) if e.op in ("=", "!=", "<", "<=", ">", ">=", "in") else Ty(s.UNKNOWN)
        if e.op == "in":
            if left.name != s.TEXT or right.name != s.TEXT_SET:
                self.c.error(
                    "E203",
                    f"`in` needs text in a set, not {left.name} in {right.name}",
                    e.span,
                    'e.g. "senior" in order.approvals',
                )
            return Ty(s.BOOL)
        if e.op in ("=", "!=", "<", "<=", ">", ">="):
            return self._compare(e, left, right)
        return self._arith(e, left, right)

    def _compare(self, e: a.Binary, left: Ty, right: Ty) -> Ty:
        if {left.name, right.name} == {s.MONTH, s.TEXT} and (
            _is_month_text(e.left) or _is_month_text(e.right)
        ):
            return Ty(s.BOOL)  # "2026-12" written as text is a month
        if left.name != right.name:
            hint = _COMPARE_HINTS.get(frozenset({left.name, right.name}))
            self.c.error("E203", f"cannot compare {left.name} with {right.name}", e.span, hint)
        elif e.op not in ("=", "!=") and left.name not in _ORDERED:
            self.c.error(
                "E203",
                f"{left.name} values cannot be ordered with {e.op}",
                e.span,
                "compare them with = or !=",
            )
        for side, other in ((e.left, right), (e.right, left)):
            if isinstance(side, a.Text) and other.choices and side.value not in other.choices:
                hint = did_you_mean(side.value, other.choices) or (
                    "values: " + ", ".join(sorted(other.choices))
                )
                self.c.error("E207", f"'{side.value}' is never a value here", side.span, hint)
        return Ty(s.BOOL)

    def _arith(self, e: a.Binary, left: Ty, right: Ty) -> Ty:
        result = _ARITH.get((left.name, e.op, right.name))
        if result is None and e.op == "*":
            result = _ARITH.get((right.name, e.op, left.name))
        if result is not None:
            return Ty(result)
        hint = None
        if left.name == s.DATE and right.name in (s.DURATION, s.BUSINESS_DURATION):
            hint = "a date has no clock time: use start_of_day(date) or end_of_day(date)"
        elif s.BUSINESS_DURATION in (left.name, right.name):
            hint = "a business duration can only be added to a time, or used in within/tier"
        return self._unknown(
            "E203", f"cannot {_VERB[e.op]} {left.name} {_PREP[e.op]} {right.name}", e.span, hint
        )


_MONTH_TEXT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _is_month_text(e: a.Expr) -> bool:
    return isinstance(e, a.Text) and bool(_MONTH_TEXT.match(e.value))


_VERB = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
_PREP = {"+": "and", "-": "and", "*": "by", "/": "by"}


def _allowed_hint(kind: type, rule_kind: str) -> str:
    if kind is a.WhenClause:
        return "deadline and schedule rules use `expect … where` instead of `when`"
    if kind is a.WhereClause and rule_kind == "schedule":
        return "a schedule rule has no trigger event: put the condition in `expect … where`"
    if rule_kind == "tier":
        return "a tier holds severity, let, message and penalty"
    return "see the clause table in docs/rules.md"
