"""The type of every expression: literals, operators and units (E203, E207).

Names go to ``names``, calls and table lookups to ``calls``; what an operator accepts is
in the tables below. Each type is recorded in the report, for the compiler.
"""

from __future__ import annotations

from dsl import ast as a
from dsl import schema as s
from dsl.check import calls, names
from dsl.check.report import Report
from dsl.check.scope import Scope
from dsl.schema import Ty

_ORDERED = {s.NUMBER, s.MONEY, s.PERCENT, s.DURATION, s.TIME, s.DATE, s.TIME_OF_DAY}
_ORDERED |= {s.WEEKDAY, s.MONTH, s.UNKNOWN}
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
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
_VERB = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
_PREP = {"+": "and", "-": "and", "*": "by", "/": "by"}
_NEGATABLE = (s.NUMBER, s.MONEY, s.PERCENT, s.DURATION, s.UNKNOWN)


class Types:
    """Infers and records the types of one rule's expressions.

    The walk is recursive: a clause deeper than ``ast.MAX_NESTING`` never gets here
    (E104), and each level costs three frames (``infer``, ``_node``, the operator's method).
    """

    def __init__(self, report: Report, used_lets: set[str]) -> None:
        self.report = report
        self.used_lets = used_lets  # the lets a name has referred to (W301)

    def infer(self, e: a.Expr, scope: Scope) -> Ty:
        ty = self._node(e, scope)
        self.report.types[e] = ty
        return ty

    def _node(self, e: a.Expr, scope: Scope) -> Ty:
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
                return self.infer(inner, scope)
            case a.Name():
                return names.name_type(self.report, e, scope, self.used_lets)
            case a.Lookup():
                return calls.lookup_type(self.report, e, [self.infer(k, scope) for k in e.keys])
            case a.Call():
                return calls.call_type(self.report, e, [self.infer(x, scope) for x in e.args])
            case a.Unary():
                return self._unary(e, scope)
            case a.Presence():
                return self._presence(e, scope)
            case a.Binary():
                return self._binary(e, scope)
        return Ty(s.UNKNOWN)  # pragma: no cover - every node kind is matched above

    def _presence(self, e: a.Presence, scope: Scope) -> Ty:
        ty = self.infer(e.operand, scope)
        if not ty.optional and ty.name != s.UNKNOWN:
            word = "present" if e.present else "missing"
            self.report.error(
                "E203",
                f"`is {word}` needs a value that may be missing",
                e.span,
                "this value is always there",
            )
        return Ty(s.BOOL)

    def _unary(self, e: a.Unary, scope: Scope) -> Ty:
        ty = self.infer(e.operand, scope)
        if e.op == "not":
            if ty.name not in (s.BOOL, s.UNKNOWN):
                self.report.error("E203", f"`not` needs a condition, not {ty.name}", e.operand.span)
            return Ty(s.BOOL)
        if ty.name not in _NEGATABLE:
            return self.report.unknown("E203", f"cannot negate {ty.name}", e.span, None)
        return ty.required()

    def _binary(self, e: a.Binary, scope: Scope) -> Ty:
        left, right = self.infer(e.left, scope), self.infer(e.right, scope)
        if e.op in ("and", "or"):
            for side, ty in ((e.left, left), (e.right, right)):
                if ty.name not in (s.BOOL, s.UNKNOWN):
                    self.report.error(
                        "E203", f"`{e.op}` needs conditions, not {ty.name}", side.span
                    )
            return Ty(s.BOOL)
        if s.UNKNOWN in (left.name, right.name):
            # The unknown side was reported; a comparison is still a condition.
            return Ty(s.BOOL) if e.op in (*_COMPARISONS, "in") else Ty(s.UNKNOWN)
        if e.op == "in":
            if left.name != s.TEXT or right.name != s.TEXT_SET:
                self.report.error(
                    "E203",
                    f"`in` needs text in a set, not {left.name} in {right.name}",
                    e.span,
                    'e.g. "senior" in order.approvals',
                )
            return Ty(s.BOOL)
        if e.op in _COMPARISONS:
            return self._compare(e, left, right)
        return self._arith(e, left, right)

    def _compare(self, e: a.Binary, left: Ty, right: Ty) -> Ty:
        if {left.name, right.name} == {s.MONTH, s.TEXT} and (
            calls.is_month_text(e.left) or calls.is_month_text(e.right)
        ):
            return Ty(s.BOOL)  # "2026-12" written as text is a month
        if left.name != right.name:
            hint = _COMPARE_HINTS.get(frozenset({left.name, right.name}))
            self.report.error("E203", f"cannot compare {left.name} with {right.name}", e.span, hint)
        elif e.op not in ("=", "!=") and left.name not in _ORDERED:
            self.report.error(
                "E203",
                f"{left.name} values cannot be ordered with {e.op}",
                e.span,
                "compare them with = or !=",
            )
        for side, other in ((e.left, right), (e.right, left)):
            if isinstance(side, a.Text) and other.choices and side.value not in other.choices:
                hint = names.did_you_mean(side.value, other.choices) or (
                    "values: " + ", ".join(sorted(other.choices))
                )
                self.report.error("E207", f"'{side.value}' is never a value here", side.span, hint)
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
        message = f"cannot {_VERB[e.op]} {left.name} {_PREP[e.op]} {right.name}"
        return self.report.unknown("E203", message, e.span, hint)
