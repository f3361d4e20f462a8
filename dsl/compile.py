"""Checked AST → ``dsl.compiled.CompiledRule``: closures over ``Env``, built once.

No user text is ever executed as Python: every expression node becomes a small closure.
Literal sub-expressions (`30% * 200 CNY`, `7d + 12h`) are folded at build time. A value
missing at run time (no order record, an unset optional field) raises ``Missing`` inside
the closures; the public callables turn it into "condition false" (``Pred``) or ``None``
(``Expr``) and message pieces into "(missing)" — the engine never sees an exception for it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from dsl import ast as a
from dsl import schema as s
from dsl.builtins import BUILTINS, MISSING_TEXT, Missing, format_value, need
from dsl.check import CheckResult
from dsl.compiled import (
    CompiledRule,
    Duration,
    Env,
    Expr,
    Kind,
    Outcome,
    Penalty,
    Pred,
    Schedule,
    Severity,
    Tier,
)
from dsl.errors import CompileError
from dsl.schema import Ty

Fn = Callable[[Env], Any]
_NO_VALUE = object()

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _divide(x: Any, y: Any) -> Any:
    if isinstance(x, timedelta):
        return x / float(y)
    try:
        return Decimal(x) / Decimal(y)
    except (ZeroDivisionError, DivisionByZero, InvalidOperation) as err:
        raise Missing from err  # dividing by zero has no value: the condition is false


def _multiply(x: Any, y: Any) -> Any:
    # timedelta cannot be multiplied by a Decimal; the other products are Decimal/int.
    if isinstance(x, timedelta):
        return x * float(y)
    if isinstance(y, timedelta):
        return y * float(x)
    return x * y


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": _multiply,
    "/": _divide,
}


def _safe(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def run(x: Any, y: Any) -> Any:
        try:
            return op(x, y)
        except (OverflowError, ArithmeticError, TypeError) as err:
            raise Missing from err  # out of range at run time: treated as missing

    return run


def predicate(fn: Fn) -> Pred:
    """A condition: a missing value makes it false."""

    def run(env: Env) -> bool:
        try:
            return bool(fn(env))
        except Missing:
            return False

    return run


def value(fn: Fn) -> Expr:
    """A value for the engine: None when missing."""

    def run(env: Env) -> Any:
        try:
            return fn(env)
        except Missing:
            return None

    return run


def _const(v: Any) -> Fn:
    return lambda env: v


# --- order record fields ------------------------------------------------------------------


def _same(v: Any) -> Any:
    return v


def _order_reader(name: str, ty: Ty) -> Fn:
    """Read one field of the JSON order record as the language's type."""
    if name.endswith("_at") and name != "last_step_at":
        step = name[: -len("_at")]
        return lambda env: datetime.fromisoformat(need(need(env.order)["steps"].get(step)))
    converters: dict[str, Callable[[Any], Any]] = {
        s.MONEY: lambda v: Decimal(str(v)),
        s.DATE: date.fromisoformat,
        s.TIME: datetime.fromisoformat,
        s.TEXT_SET: frozenset,
        s.NUMBER: int,
    }
    convert = converters.get(ty.name, _same)
    return lambda env: convert(need(need(env.order).get(name)))


def _key_reader(name: str) -> Fn:
    def run(env: Env) -> Any:
        found = env.key.get(name) if env.key else None
        if found is None and env.event is not None:
            found = getattr(env.event, name, None)
        if found is None and env.order is not None:
            found = env.order.get(name)
        return need(found)

    return run


def _event_reader(name: str) -> Fn:
    attr = "event_time" if name == "time" else name
    return lambda env: need(getattr(need(env.event), attr, None))


class _ExprCompiler:
    def __init__(self, types: Mapping[object, Ty]) -> None:
        self.types = types

    def type_of(self, e: a.Expr) -> str:
        return self.types.get(e, Ty(s.UNKNOWN)).name

    def fold(self, e: a.Expr) -> Any:
        """The value of a literal-only expression, or _NO_VALUE."""
        match e:
            case a.Number(value=v) | a.Money(amount=v) | a.Percent(value=v):
                return v
            case a.Text(value=v) | a.Bool(value=v):
                return v
            case a.DurationLit(business=False):
                return e.amount
            case a.TimeOfDay(hour=h, minute=m):
                return time(h, m)
            case a.Name(parts=(day,)) if day in s.WEEKDAYS:
                return s.WEEKDAYS[day]
            case a.Group(inner=inner):
                return self.fold(inner)
            case a.Unary(op="-", operand=operand):
                v = self.fold(operand)
                return _NO_VALUE if v is _NO_VALUE else -v
            case a.Binary(op=op) if op in _ARITH or op in _COMPARE:
                left, right = self.fold(e.left), self.fold(e.right)
                if _NO_VALUE in (left, right):
                    return _NO_VALUE
                try:
                    return (_ARITH.get(op) or _COMPARE[op])(left, right)
                except (Missing, ArithmeticError, OverflowError, TypeError):
                    return _NO_VALUE  # leave it to run time, which treats it as missing
        return _NO_VALUE

    def expr(self, e: a.Expr) -> Fn:
        folded = self.fold(e)
        if folded is not _NO_VALUE:
            return _const(folded)
        match e:
            case a.Group(inner=inner):
                return self.expr(inner)
            case a.Name():
                return self.name(e)
            case a.Lookup():
                return self.lookup(e)
            case a.Call():
                return self.call(e)
            case a.Unary(op="not", operand=operand):
                positive = self.expr(operand)
                return lambda env: not positive(env)
            case a.Unary(operand=operand):
                plain = self.expr(operand)
                return lambda env: -plain(env)
            case a.Presence(operand=operand, present=present):
                return self.presence(self.expr(operand), present)
            case a.Binary():
                return self.binary(e)
        raise CompileError(f"cannot compile {type(e).__name__}", ())  # pragma: no cover

    def name(self, e: a.Name) -> Fn:
        head, rest = e.parts[0], e.parts[1:]
        if head == "event" and len(rest) == 1:
            return _event_reader(rest[0])
        if head == "order" and len(rest) == 1:
            return _order_reader(rest[0], s.ORDER_FIELDS[rest[0]])
        if head in self.let_names:
            return lambda env: need(env.lets.get(head))
        if head in s.KEY_NAMES:
            return _key_reader(head)
        if head == "start":
            return lambda env: need(env.start)
        if head == "deadline":
            return lambda env: need(env.deadline)
        return _const(s.WEEKDAYS[head])

    let_names: frozenset[str] = frozenset()

    def lookup(self, e: a.Lookup) -> Fn:
        method = s.TABLES[".".join(e.table)].method
        keys = [self.expr(k) for k in e.keys]
        return lambda env: getattr(env.view, method)(*(k(env) for k in keys))

    def call(self, e: a.Call) -> Fn:
        impl = BUILTINS[e.func].impl
        args = [self.expr(arg) for arg in e.args]
        return lambda env: impl(env, *(arg(env) for arg in args))

    @staticmethod
    def presence(inner: Fn, present: bool) -> Fn:
        def run(env: Env) -> bool:
            try:
                there = inner(env) is not None
            except Missing:
                there = False
            return there == present

        return run

    def binary(self, e: a.Binary) -> Fn:
        left = self.expr(e.left)
        if e.op == "+" and isinstance(e.right, a.DurationLit) and e.right.business:
            amount = e.right.amount
            return lambda env: env.calendar.add_business(left(env), amount)
        right = self.expr(e.right)
        if e.op == "and":
            return lambda env: bool(left(env)) and bool(right(env))
        if e.op == "or":
            return lambda env: bool(left(env)) or bool(right(env))
        if e.op == "in":
            return lambda env: left(env) in right(env)
        op = _safe(_COMPARE.get(e.op) or _ARITH[e.op])
        return lambda env: op(left(env), right(env))


# --- templates ------------------------------------------------------------------------------


def _template(template: a.Template, compiler: _ExprCompiler) -> Expr:
    pieces: list[str | tuple[Fn, str]] = [
        p if isinstance(p, str) else (compiler.expr(p), compiler.type_of(p)) for p in template.parts
    ]

    def render(env: Env) -> str:
        zone = getattr(env.calendar, "zone", None)
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            fn, type_name = piece
            try:
                out.append(format_value(fn(env), type_name, zone))
            except Missing:
                out.append(MISSING_TEXT)
        return "".join(out)

    return render


# --- rules ----------------------------------------------------------------------------------


def _first(clauses: tuple[a.Clause, ...], kind: type) -> Any:
    return next((c for c in clauses if isinstance(c, kind)), None)


class _RuleCompiler:
    def __init__(self, rule: a.Rule, file: a.RuleFile, types: Mapping[object, Ty]) -> None:
        self.rule = rule
        self.file = file
        self.exprs = _ExprCompiler(types)
        self.exprs.let_names = frozenset(
            c.name.name for c in _all_clauses(rule) if isinstance(c, a.LetClause)
        )

    def clause(self, kind: type, clauses: tuple[a.Clause, ...] | None = None) -> Any:
        return _first(self.rule.clauses if clauses is None else clauses, kind)

    def outcome(self, tier: a.TierClause | None = None) -> Outcome:
        own = tier.clauses if tier is not None else ()
        severity = self.clause(a.SeverityClause, own) or self.clause(a.SeverityClause)
        message = self.clause(a.MessageClause, own) or self.clause(a.MessageClause)
        penalty = self.clause(a.PenaltyClause, own) or self.clause(a.PenaltyClause)
        lets = [c for c in (*self.rule.clauses, *own) if isinstance(c, a.LetClause)]
        level: Severity = severity.level.name if severity else "warning"
        return Outcome(
            severity=level,
            lets=tuple((c.name.name, value(self.exprs.expr(c.value))) for c in lets),
            message=_template(message.template, self.exprs) if message else _const(""),
            penalty=Penalty(
                amount=value(self.exprs.expr(penalty.amount)),
                who=value(self.exprs.expr(penalty.who)),
            )
            if penalty
            else None,
        )

    def tiers(self) -> tuple[Tier, ...]:
        expect: a.ExpectClause | None = self.clause(a.ExpectClause)
        if expect is not None and expect.within is not None:
            after = Duration(expect.within.amount, expect.within.business)
            return (Tier(expect.within.text, after, None, self.outcome()),)
        if expect is not None and expect.by is not None:
            by = value(self.exprs.expr(expect.by))
            return (Tier("by", None, by, self.outcome()),)
        return tuple(
            Tier(c.after.text, Duration(c.after.amount, c.after.business), None, self.outcome(c))
            for c in self.rule.clauses
            if isinstance(c, a.TierClause)
        )

    def compile(self) -> CompiledRule:
        rule, c = self.rule, self.clause
        on, after, every = c(a.OnClause), c(a.AfterClause), c(a.EveryClause)
        kind: Kind = "event" if on else "deadline" if after else "schedule"
        where, when = c(a.WhereClause), c(a.WhenClause)
        expect, cancel = c(a.ExpectClause), c(a.CancelClause)
        calendar = c(a.CalendarClause) or self.file.calendar
        key = c(a.KeyClause)
        return CompiledRule(
            id=rule.id.name,
            name=rule.name.value,
            source=f"{rule.span.file}:{rule.span.line}",
            kind=kind,
            triggers=frozenset(t.name for t in (on or after).types) if on or after else frozenset(),
            where=predicate(self.exprs.expr(where.cond)) if where else None,
            key_fields=tuple(i.name for i in key.names) if key else (),
            labels={
                lab.name.name: lab.value.value
                for lab in rule.clauses
                if isinstance(lab, a.LabelClause)
            },
            calendar=calendar.name.value if calendar else None,
            when=predicate(self.exprs.expr(when.cond)) if when else None,
            outcome=self.outcome() if kind != "deadline" else None,
            expect=frozenset(t.name for t in expect.types) if expect else frozenset(),
            expect_where=predicate(self.exprs.expr(expect.where))
            if expect and expect.where
            else None,
            cancel_on=frozenset(t.name for t in cancel.types) if cancel else frozenset(),
            tiers=self.tiers() if kind == "deadline" else (),
            schedule=Schedule(
                int(every.day.value), (every.at.hour, every.at.minute), self._for_each()
            )
            if every
            else None,
        )

    def _for_each(self) -> Any:
        clause = self.clause(a.ForEachClause)
        return clause.name.name if clause else "region"


def _all_clauses(rule: a.Rule) -> list[a.Clause]:
    out: list[a.Clause] = []
    for clause in rule.clauses:
        out.append(clause)
        if isinstance(clause, a.TierClause):
            out.extend(clause.clauses)
    return out


def compile_file(tree: a.RuleFile, checked: CheckResult) -> list[CompiledRule]:
    """Compile every rule of a file that checked without errors."""
    if not checked.ok:
        errors = [d for d in checked.diagnostics if d.is_error]
        raise CompileError(f"{tree.file} has {len(errors)} error(s); run check first", errors)
    return [_RuleCompiler(rule, tree, checked.types).compile() for rule in tree.rules]
