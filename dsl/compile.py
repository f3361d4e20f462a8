"""Checked AST → ``dsl.compiled.CompiledRule``: closures over ``Env``, built once.

No user text is ever executed as Python: every expression node becomes a small closure.
Literal sub-expressions (`30% * 200 CNY`, `7d + 12h`) are folded at build time. A value
missing at run time (no order record, an unset optional field) raises ``Missing`` inside
the closures; the public callables turn it into "condition false" (``Pred``) or ``None``
(``Expr``) and message pieces into "(missing)" — the engine never sees an exception for it.

Event rules' ``where``, ``let``s and ``when`` run for every trigger event, so there the
compiler specialises (see ``_Fast``): a sub-expression the checker proves can be neither
missing nor out of range (required event fields, table lookups, integer arithmetic,
comparisons of numbers or texts, lets made of those) gets a closure without ``need``,
``_safe`` or ``try``, and common operand shapes (an event field, a let, a constant) are
read inline instead of through one more closure. Everything else keeps the general
closures, so the values and the "missing makes it false" rule are the same either way.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any, Literal, get_args, get_origin

from dsl import ast as a
from dsl import codegen
from dsl import schema as s
from dsl.builtins import BUILTINS, MISSING_TEXT, Missing, format_value, need
from dsl.check import CheckResult
from dsl.compiled import (
    CompiledRule,
    Decision,
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


def _as_bool(fn: Fn) -> Fn:
    return lambda env: bool(fn(env))


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


def _event_attr(name: str) -> str:
    return "event_time" if name == "time" else name


def _event_reader(name: str) -> Fn:
    attr = _event_attr(name)
    return lambda env: need(getattr(need(env.event), attr, None))


# --- sure values: the event rules' hot path --------------------------------------------------
#
# The sort of a value that can be neither missing nor out of range: "int" (quantities,
# table lookups), "dec" (a finite decimal constant), "str", "bool", or "value" (anything
# else, e.g. a time: sure to be there, but not known to compare without error).

_INT, _DEC, _STR, _BOOL, _VALUE = "int", "dec", "str", "bool", "value"
_NUMERIC = frozenset({_INT, _DEC})
_SURE_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def _const_sort(v: Any) -> str:
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, int):
        return _INT
    if isinstance(v, Decimal) and v.is_finite():
        return _DEC
    return _STR if isinstance(v, str) else _VALUE


def _annotation_sort(annotation: Any) -> str:
    for cls, sort in ((bool, _BOOL), (int, _INT), (str, _STR)):
        if annotation is cls:
            return sort
    if get_origin(annotation) is Literal and all(isinstance(v, str) for v in get_args(annotation)):
        return _STR
    return _VALUE


def _event_field_sort(triggers: tuple[str, ...], name: str) -> str:
    """What ``event.NAME`` holds on every trigger type (the checker made it required)."""
    fields = (s.EVENT_TYPES[t].model_fields.get(_event_attr(name)) for t in triggers)
    sorts = {_annotation_sort(f.annotation) if f else _VALUE for f in fields}
    return sorts.pop() if len(sorts) == 1 else _VALUE


def _binary_sort(op: str, left: str | None, right: str | None) -> str | None:
    """The sort of ``left op right`` when neither side nor the operation can fail."""
    if left is None or right is None:
        return None
    if op in ("and", "or", "in"):
        return _BOOL
    if op in _COMPARE:
        same = left == right and left in (_STR, _BOOL)
        return _BOOL if same or {left, right} <= _NUMERIC else None
    return _INT if op in _SURE_ARITH and left == right == _INT else None


# An operand read inline by a binary closure: ("const", value), ("let", name),
# ("event", attribute), ("lookup", (StateView method, event attribute)) or ("fn", closure).
_Operand = tuple[str, Any]


def _lookup_fn(method: str, attr: str) -> Fn:
    return lambda env: getattr(env.view, method)(getattr(env.event, attr))


def _operand_fn(operand: _Operand) -> Fn:
    kind, v = operand
    if kind == "const":
        return _const(v)
    if kind == "let":
        return lambda env: env.lets[v]
    if kind == "lookup":
        return _lookup_fn(*v)
    return operator.attrgetter(f"event.{v}") if kind == "event" else v


_Chain = tuple[str, list[tuple[Callable[[Any, Any], Any], str]]]


def _let_chain(first: str, rest: list[tuple[Callable[[Any, Any], Any], str]]) -> Fn:
    """``first op1 second op2 third …`` over lets (a cap: `stock - in_transit + forecast`)."""
    if len(rest) == 2:
        (op1, second), (op2, third) = rest

        def three(env: Env) -> Any:
            lets = env.lets
            return op2(op1(lets[first], lets[second]), lets[third])

        return three

    def chain(env: Env) -> Any:
        lets = env.lets
        total = lets[first]
        for op, name in rest:
            total = op(total, lets[name])
        return total

    return chain


def _pair(op: Callable[[Any, Any], Any], left: _Operand, right: _Operand) -> Fn:
    """``op(left, right)`` in one closure for the shapes rules use most."""
    (lk, lv), (rk, rv) = left, right
    match lk, rk:
        case "let", "let":
            return lambda env: op(env.lets[lv], env.lets[rv])
        case "let", "const":
            return lambda env: op(env.lets[lv], rv)
        case "const", "let":
            return lambda env: op(lv, env.lets[rv])
        case "event", "let":
            return lambda env: op(getattr(env.event, lv), env.lets[rv])
        case "let", "event":
            return lambda env: op(env.lets[lv], getattr(env.event, rv))
        case "event", "const":
            return lambda env: op(getattr(env.event, lv), rv)
        case "lookup", "const":
            method, attr = lv
            return lambda env: op(getattr(env.view, method)(getattr(env.event, attr)), rv)
        case "const", "lookup":
            method, attr = rv
            return lambda env: op(lv, getattr(env.view, method)(getattr(env.event, attr)))
        case "fn", "const":
            return lambda env: op(lv(env), rv)
        case "const", "fn":
            return lambda env: op(lv, rv(env))
        case "fn", "let":
            return lambda env: op(lv(env), env.lets[rv])
        case "let", "fn":
            return lambda env: op(env.lets[lv], rv(env))
    lf, rf = _operand_fn(left), _operand_fn(right)
    return lambda env: op(lf(env), rf(env))


class _ExprCompiler:
    def __init__(self, types: Mapping[object, Ty]) -> None:
        self.types = types
        # Set by the rule compiler for an event rule's where/lets/when (module docstring):
        # `event` is sure to be one of ``triggers``; ``lets_ready``: the lets are evaluated.
        self.fast = False
        self.triggers: tuple[str, ...] = ()
        self.lets_ready = False
        self.let_sorts: dict[str, str] = {}  # lets whose value is sure, by sort

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
        # These compile alike whether sure or not: only their operands differ.
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
                return self.presence(self.expr(operand), present)
        if self.sure(e) is not None:
            return self.sure_expr(e)
        match e:
            case a.Name():
                return self.name(e)
            case a.Lookup():
                return self.lookup(e)
            case a.Call():
                return self.call(e)
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

    # --- sure values (the hot path: see the module docstring) --------------------------

    def sure(self, e: a.Expr) -> str | None:
        """The sort of ``e`` if it can be neither missing nor fail (fast mode only)."""
        if not self.fast:
            return None
        folded = self.fold(e)
        if folded is not _NO_VALUE:
            return _const_sort(folded)
        match e:
            case a.Group(inner=inner):
                return self.sure(inner)
            case a.Name(parts=("event", name)):
                ty = self.types.get(e)
                if ty is None or ty.optional or ty.name == s.UNKNOWN:
                    return None
                return _event_field_sort(self.triggers, name)
            case a.Name(parts=(name,)) if self.lets_ready:
                return self.let_sorts.get(name)
            case a.Lookup(keys=keys):
                return _INT if all(self.sure(k) is not None for k in keys) else None
            case a.Unary(op="not", operand=operand):
                return None if self.sure(operand) is None else _BOOL
            case a.Unary(operand=operand):
                sort = self.sure(operand)
                return sort if sort in (None, _INT) else _VALUE
            case a.Presence():
                return _BOOL
            case a.Binary(op=op, left=left, right=right):
                return _binary_sort(op, self.sure(left), self.sure(right))
        return None

    def sure_expr(self, e: a.Expr) -> Fn:
        """The closure of a sure name, lookup or binary operation (``expr`` compiles the
        other forms): no ``need``, no ``_safe``, operands inline."""
        match e:
            case a.Name(parts=("event", name)):
                return operator.attrgetter(f"event.{_event_attr(name)}")
            case a.Name(parts=(name,)):
                return lambda env: env.lets[name]
            case a.Lookup():
                return self.sure_lookup(e)
            case a.Binary(op="and" | "or" as op, left=left, right=right):
                lf, rf = self.expr(left), self.expr(right)
                if self.sure(left) != _BOOL or self.sure(right) != _BOOL:
                    lf, rf = _as_bool(lf), _as_bool(rf)
                if op == "and":
                    return lambda env: lf(env) and rf(env)
                return lambda env: lf(env) or rf(env)
            case a.Binary(op="in", left=left, right=right):
                lf, rf = self.expr(left), self.expr(right)
                return lambda env: lf(env) in rf(env)
            case a.Binary(op=op, left=left, right=right):
                chain = self.let_chain(e)
                if chain is not None and len(chain[1]) > 1:
                    return _let_chain(*chain)
                fn = _COMPARE.get(op) or _SURE_ARITH[op]
                return _pair(fn, self.operand(left), self.operand(right))
        raise CompileError(f"cannot compile {type(e).__name__}", ())  # pragma: no cover

    def let_chain(self, e: a.Expr) -> _Chain | None:
        """``a ± b ± c …`` over integer lets: the first let and (operation, let) pairs."""
        match e:
            case a.Group(inner=inner):
                return self.let_chain(inner)
            case a.Name(parts=(name,)) if self.lets_ready and name in self.let_sorts:
                return name, []
            case a.Binary(op="+" | "-" as op, left=left, right=right) if self.sure(e) == _INT:
                head, tail = self.let_chain(left), self.let_chain(right)
                if head is None or tail is None or tail[1]:
                    return None
                return head[0], [*head[1], (_SURE_ARITH[op], tail[0])]
        return None

    def operand(self, e: a.Expr) -> _Operand:
        folded = self.fold(e)
        if folded is not _NO_VALUE:
            return ("const", folded)
        match e:
            case a.Group(inner=inner):
                return self.operand(inner)
            case a.Name(parts=("event", name)):
                return ("event", _event_attr(name))
            case a.Name(parts=(name,)) if self.lets_ready and name in self.let_sorts:
                return ("let", name)
            case a.Lookup(table=table, keys=(a.Name(parts=("event", key)),)) if self.sure(e):
                return ("lookup", (s.TABLES[".".join(table)].method, _event_attr(key)))
        return ("fn", self.expr(e))

    def sure_lookup(self, e: a.Lookup) -> Fn:
        """A StateView method on sure keys; an event-field key is read inline."""
        method = s.TABLES[".".join(e.table)].method
        keys = [self.operand(k) for k in e.keys]
        if len(keys) == 1 and keys[0][0] == "event":
            return _lookup_fn(method, keys[0][1])
        fns = [_operand_fn(k) for k in keys]
        if len(fns) == 1:
            key = fns[0]
            return lambda env: getattr(env.view, method)(key(env))
        if len(fns) == 2:
            first, second = fns
            return lambda env: getattr(env.view, method)(first(env), second(env))
        return lambda env: getattr(env.view, method)(*[k(env) for k in fns])

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

    def condition(self, cond: a.Expr) -> Pred:
        """``predicate(cond)``; a sure condition needs no guard against missing values."""
        sort, fn = self.exprs.sure(cond), self.exprs.expr(cond)
        if sort is None:
            return predicate(fn)
        return fn if sort == _BOOL else _as_bool(fn)

    def let(self, clause: a.LetClause, writer: codegen.DecisionWriter) -> tuple[str, Expr]:
        name, sort, fn = (
            clause.name.name,
            self.exprs.sure(clause.value),
            self.exprs.expr(clause.value),
        )
        compiled = fn if sort is not None else value(fn)
        writer.let(name, clause.value, sort, compiled)  # before the let itself is sure
        if sort is not None:
            self.exprs.let_sorts[name] = sort
        return name, compiled

    def event_clauses(self) -> tuple[Pred | None, Outcome, Pred | None, Decision]:
        """An event rule's where, outcome and when, its hot path compiled in fast mode,
        and the same where + lets + when as one generated function (``dsl.codegen``),
        written clause by clause alongside the closures so each sees the same state."""
        where, when = self.clause(a.WhereClause), self.clause(a.WhenClause)
        on: a.OnClause = self.clause(a.OnClause)
        exprs = self.exprs
        exprs.fast, exprs.triggers = True, tuple(t.name for t in on.types)
        writer = codegen.DecisionWriter(exprs, exprs.triggers)
        where_fn = self.condition(where.cond) if where else None
        if where is not None and where_fn is not None:
            writer.where(where.cond, where_fn)
        exprs.lets_ready = True  # lets run in order after `where`; `when` runs after them
        lets = tuple(self.let(c, writer) for c in self.rule.clauses if isinstance(c, a.LetClause))
        when_fn = self.condition(when.cond) if when else None
        if when is not None and when_fn is not None:
            writer.when(when.cond, when_fn)
        exprs.fast = exprs.lets_ready = False  # messages and penalties: general closures
        decision = writer.build(where_fn, lets, when_fn)
        return where_fn, self.outcome(lets=lets), when_fn, decision

    def outcome(
        self, tier: a.TierClause | None = None, lets: tuple[tuple[str, Expr], ...] | None = None
    ) -> Outcome:
        own = tier.clauses if tier is not None else ()
        severity = self.clause(a.SeverityClause, own) or self.clause(a.SeverityClause)
        message = self.clause(a.MessageClause, own) or self.clause(a.MessageClause)
        penalty = self.clause(a.PenaltyClause, own) or self.clause(a.PenaltyClause)
        if lets is None:
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
        where = c(a.WhereClause)
        outcome: Outcome | None
        decision: Decision | None = None
        if kind == "event":
            where_fn, outcome, when_fn, decision = self.event_clauses()
        else:
            where_fn = predicate(self.exprs.expr(where.cond)) if where else None
            outcome, when_fn = (self.outcome() if kind != "deadline" else None), None
        expect, cancel = c(a.ExpectClause), c(a.CancelClause)
        calendar = c(a.CalendarClause) or self.file.calendar
        key = c(a.KeyClause)
        return CompiledRule(
            id=rule.id.name,
            name=rule.name.value,
            source=f"{rule.span.file}:{rule.span.line}",
            kind=kind,
            triggers=frozenset(t.name for t in (on or after).types) if on or after else frozenset(),
            where=where_fn,
            key_fields=tuple(i.name for i in key.names) if key else (),
            labels={
                lab.name.name: lab.value.value
                for lab in rule.clauses
                if isinstance(lab, a.LabelClause)
            },
            calendar=calendar.name.value if calendar else None,
            when=when_fn,
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
            decision=decision,
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


def source_of(rule: CompiledRule) -> str | None:
    """The generated Python of an event rule's decision (``dsl.codegen``), for debugging;
    None for other rules and for rules not compiled from source."""
    return rule.decision.source if rule.decision is not None else None
