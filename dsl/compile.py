"""Checked AST → ``dsl.compiled.CompiledRule``: closures over ``Env``, built once.

The rule language's one evaluator. No user text is ever executed as Python: every
expression node becomes a small closure, built once, and an event rule is decided by
``CompiledRule.decide`` over them (`where`, the lets in order, `when`). Literal
sub-expressions (`30% * 200 CNY`, `7d + 12h`) are folded at build time.

Two kinds of run-time trouble, kept apart:

* A value that is missing (no order record, an unset optional field, a division by zero,
  arithmetic out of range) raises ``Missing`` inside the closures; the public callables
  turn it into "condition false" (``Pred``), ``None`` (``Expr``) or "(missing)" in a
  message. That is the language's meaning (docs/rules.md, "Missing values"), not an error.
* A function or conversion that fails on its data (a calendar out of range, an order
  field that does not parse) raises ``EvaluationFailed`` where it happens, naming the
  place in the rule file; the engine counts it as that rule's problem. Nothing else is
  caught: any other exception out of a closure is a bug in our code and propagates.

A chain of operators (`a or b or c …`, `x + y - z …`) compiles to one closure looping
over its operands, so a rule listing hundreds of alternatives nests no deeper than one
listing two.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from dsl import ast as a
from dsl import schema as s
from dsl.builtins import BUILTINS, MISSING_TEXT, EvaluationFailed, Missing, format_value, need
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


# The language's binary operators on values: the one table (`and`, `or`, `in` and
# `+ N business …` are control flow or calendar work, compiled in ``_ExprCompiler``).
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": _multiply,
    "/": _divide,
}
# An operation out of range at run time (a huge product, aware vs naive): no value.
_OUT_OF_RANGE = (OverflowError, ArithmeticError, TypeError)
# What a function of the language, the calendar or an order-field conversion raises on
# data it cannot handle (``CalendarError`` is a ValueError): the rule's problem.
_DATA_ERRORS = (ValueError, ArithmeticError)


def _place(span: a.Span) -> str:
    return f"{span.file}:{span.line}:{span.col}"


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


# --- reading names ----------------------------------------------------------------------


def _same(v: Any) -> Any:
    return v


_ORDER_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    s.MONEY: lambda v: Decimal(str(v)),
    s.DATE: date.fromisoformat,
    s.TIME: datetime.fromisoformat,
    s.TEXT_SET: frozenset,
    s.NUMBER: int,
}


def _order_reader(name: str, ty: Ty, place: str) -> Fn:
    """Read one field of the JSON order record as the language's type."""
    if name.endswith("_at") and name != "last_step_at":
        step = name[: -len("_at")]

        def read_step(env: Env) -> Any:
            return need(need(env.order)["steps"].get(step))

        read, convert = read_step, datetime.fromisoformat
    else:

        def read_field(env: Env) -> Any:
            return need(need(env.order).get(name))

        read, convert = read_field, _ORDER_CONVERTERS.get(ty.name, _same)

    def run(env: Env) -> Any:
        raw = read(env)
        try:
            return convert(raw)
        except _DATA_ERRORS as err:
            raise EvaluationFailed(f"{place}: order.{name} is {raw!r}: {err}") from err

    return run


def _key_reader(name: str) -> Fn:
    def run(env: Env) -> Any:
        found = env.key.get(name) if env.key else None
        if found is None and env.event is not None:
            found = getattr(env.event, name, None)
        if found is None and env.order is not None:
            found = env.order.get(name)
        return need(found)

    return run


def _event_attr(name: str) -> str:
    return "event_time" if name == "time" else name


def _event_reader(name: str) -> Fn:
    attr = _event_attr(name)

    def run(env: Env) -> Any:
        found = getattr(env.event, attr, None)  # no event at all: missing too
        if found is None:
            raise Missing
        return found

    return run


def _event_lookup(method: str, attr: str) -> Fn:
    """``TABLE[event.FIELD]``: ``_event_reader`` and the lookup in one closure."""

    def run(env: Env) -> Any:
        found = getattr(env.event, attr, None)
        if found is None:
            raise Missing
        return getattr(env.view, method)(found)

    return run


def _let_reader(name: str) -> Fn:
    def run(env: Env) -> Any:
        found = env.lets.get(name)
        if found is None:
            raise Missing
        return found

    return run


def _spine(e: a.Binary, ops: Mapping[str, Any]) -> tuple[a.Expr, list[tuple[str, a.Expr]]]:
    """``((x op1 y) op2 z) …`` as ``x, [(op1, y), (op2, z), …]``, read without recursion
    (every operator of the language is left-associative, so this is its order)."""
    rest: list[tuple[str, a.Expr]] = []
    node: a.Expr = e
    while isinstance(node, a.Binary) and node.op in ops:
        rest.append((node.op, node.right))
        node = node.left
    rest.reverse()
    return node, rest


# --- expressions --------------------------------------------------------------------------


class _ExprCompiler:
    def __init__(self, types: Mapping[object, Ty], let_names: frozenset[str] = frozenset()) -> None:
        self.types = types
        self.let_names = let_names

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
            case a.Binary(op=op) if op in OPERATORS:
                return self.fold_chain(e)
        return _NO_VALUE

    def fold_chain(self, e: a.Binary) -> Any:
        first, rest = _spine(e, OPERATORS)
        total = self.fold(first)
        for op, operand in rest:
            v = self.fold(operand)
            if _NO_VALUE in (total, v):
                return _NO_VALUE
            try:
                total = OPERATORS[op](total, v)
            except (Missing, *_OUT_OF_RANGE):
                return _NO_VALUE  # leave it to run time, which treats it as missing
        return total

    def expr(self, e: a.Expr) -> Fn:
        folded = self.fold(e)
        if folded is not _NO_VALUE:
            return _const(folded)
        match e:
            case a.Group(inner=inner):
                return self.expr(inner)
            case a.Unary(op="not", operand=operand):
                positive = self.expr(operand)
                return lambda env: not positive(env)
            case a.Unary(operand=operand):
                plain = self.expr(operand)
                return lambda env: -plain(env)
            case a.Presence(operand=operand, present=present):
                return _presence(self.expr(operand), present)
            case a.Name():
                return self.name(e)
            case a.Lookup():
                return self.lookup(e)
            case a.Call():
                return self.call(e)
            case a.Binary(op="and" | "or"):
                return self.logic(e)
            case a.Binary(op="in", left=left, right=right):
                lf, rf = self.expr(left), self.expr(right)
                return lambda env: lf(env) in rf(env)
            case a.Binary():
                return self.arithmetic(e)
        raise CompileError(f"cannot compile {type(e).__name__}", ())  # pragma: no cover

    def name(self, e: a.Name) -> Fn:
        head, rest = e.parts[0], e.parts[1:]
        if head == "event" and len(rest) == 1:
            return _event_reader(rest[0])
        if head == "order" and len(rest) == 1:
            return _order_reader(rest[0], s.ORDER_FIELDS[rest[0]], _place(e.span))
        if head in self.let_names:
            return _let_reader(head)
        if head in s.KEY_NAMES:
            return _key_reader(head)
        if head == "start":
            return lambda env: need(env.start)
        if head == "deadline":
            return lambda env: need(env.deadline)
        return _const(s.WEEKDAYS[head])

    def lookup(self, e: a.Lookup) -> Fn:
        method = s.TABLES[".".join(e.table)].method
        match e.keys:
            case (a.Name(parts=("event", name)),):  # the common case, read inline
                return _event_lookup(method, _event_attr(name))
            case (single,):
                key = self.expr(single)
                return lambda env: getattr(env.view, method)(key(env))
        keys = [self.expr(k) for k in e.keys]
        return lambda env: getattr(env.view, method)(*[k(env) for k in keys])

    def call(self, e: a.Call) -> Fn:
        impl, func, place = BUILTINS[e.func].impl, e.func, _place(e.span)
        args = [self.expr(arg) for arg in e.args]

        def run(env: Env) -> Any:
            values = [arg(env) for arg in args]
            try:
                return impl(env, *values)
            except _DATA_ERRORS as err:
                raise EvaluationFailed(f"{place}: {func}(): {err}") from err

        return run

    def logic(self, e: a.Binary) -> Fn:
        """``a and b and …`` / ``a or b or …``: left to right, stopping at the first
        operand that decides; each operand as a bool."""
        first, rest = _spine(e, {e.op: None})
        fns = [self.expr(first), *(self.expr(operand) for _, operand in rest)]
        if e.op == "and":
            if len(fns) == 2:
                left, right = fns
                return lambda env: bool(left(env)) and bool(right(env))
            return lambda env: all(f(env) for f in fns)
        if len(fns) == 2:
            left, right = fns
            return lambda env: bool(left(env)) or bool(right(env))
        return lambda env: any(f(env) for f in fns)

    def arithmetic(self, e: a.Binary) -> Fn:
        """A chain of comparisons and arithmetic, left to right, in one closure; an
        operation out of range has no value (``Missing``)."""
        first, rest = _spine(e, OPERATORS)
        steps: list[_Step] = []
        for op, operand in rest:
            if op == "+" and isinstance(operand, a.DurationLit) and operand.business:
                steps.append(_business_add(operand.amount, _place(operand.span)))
            elif len(rest) == 1:  # the common case, one call fewer
                return self.operation(op, first, operand)
            else:
                steps.append(_step(OPERATORS[op], self.expr(operand)))
        return _chain(self.expr(first), steps)

    def operation(self, op: str, left: a.Expr, right: a.Expr) -> Fn:
        """``left op right``; a constant side is not called for."""
        fn, lf, rf = OPERATORS[op], self.expr(left), self.expr(right)
        constant = self.fold(right)
        if constant is _NO_VALUE:
            return _operation(fn, lf, rf)

        def run(env: Env) -> Any:
            x = lf(env)
            try:
                return fn(x, constant)
            except _OUT_OF_RANGE as err:
                raise Missing from err

        return run


# One step of a chain: (the value so far, env) -> the value after it.
_Step = Callable[[Any, Env], Any]


def _operation(op: Callable[[Any, Any], Any], left: Fn, right: Fn) -> Fn:
    def run(env: Env) -> Any:
        x, y = left(env), right(env)
        try:
            return op(x, y)
        except _OUT_OF_RANGE as err:
            raise Missing from err

    return run


def _step(op: Callable[[Any, Any], Any], right: Fn) -> _Step:
    def run(x: Any, env: Env) -> Any:
        y = right(env)
        try:
            return op(x, y)
        except _OUT_OF_RANGE as err:
            raise Missing from err

    return run


def _business_add(amount: timedelta, place: str) -> _Step:
    """``+ N business hours/days``: on the rule's calendar."""

    def run(x: Any, env: Env) -> Any:
        try:
            return env.calendar.add_business(x, amount)
        except _DATA_ERRORS as err:
            raise EvaluationFailed(f"{place}: business time: {err}") from err

    return run


def _chain(first: Fn, steps: list[_Step]) -> Fn:
    def run(env: Env) -> Any:
        total = first(env)
        for step in steps:
            total = step(total, env)
        return total

    return run


def _presence(inner: Fn, present: bool) -> Fn:
    def run(env: Env) -> bool:
        try:
            there = inner(env) is not None
        except Missing:
            there = False
        return there == present

    return run


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
        let_names = frozenset(c.name.name for c in _all_clauses(rule) if isinstance(c, a.LetClause))
        self.exprs = _ExprCompiler(types, let_names)

    def clause(self, kind: type, clauses: tuple[a.Clause, ...] | None = None) -> Any:
        return _first(self.rule.clauses if clauses is None else clauses, kind)

    def condition(self, clause: a.WhereClause | a.WhenClause | None) -> Pred | None:
        return predicate(self.exprs.expr(clause.cond)) if clause is not None else None

    def outcome(self, tier: a.TierClause | None = None) -> Outcome:
        own = tier.clauses if tier is not None else ()
        severity = self.clause(a.SeverityClause, own) or self.clause(a.SeverityClause)
        message = self.clause(a.MessageClause, own) or self.clause(a.MessageClause)
        penalty = self.clause(a.PenaltyClause, own) or self.clause(a.PenaltyClause)
        clauses = [c for c in (*self.rule.clauses, *own) if isinstance(c, a.LetClause)]
        lets = tuple((c.name.name, value(self.exprs.expr(c.value))) for c in clauses)
        level: Severity = severity.level.name if severity else "warning"
        return Outcome(
            severity=level,
            lets=lets,
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
        where = self.condition(c(a.WhereClause))
        outcome = self.outcome() if kind != "deadline" else None
        when = self.condition(c(a.WhenClause)) if kind == "event" else None
        expect, cancel = c(a.ExpectClause), c(a.CancelClause)
        calendar = c(a.CalendarClause) or self.file.calendar
        key = c(a.KeyClause)
        return CompiledRule(
            id=rule.id.name,
            name=rule.name.value,
            source=f"{rule.span.file}:{rule.span.line}",
            kind=kind,
            triggers=frozenset(t.name for t in (on or after).types) if on or after else frozenset(),
            where=where,
            key_fields=tuple(i.name for i in key.names) if key else (),
            labels={
                lab.name.name: lab.value.value
                for lab in rule.clauses
                if isinstance(lab, a.LabelClause)
            },
            calendar=calendar.name.value if calendar else None,
            when=when,
            outcome=outcome,
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
