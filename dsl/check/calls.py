"""Function calls and table lookups, their arguments' types already known: arity, argument
types and the arguments that must be literals (E203, E204, E207)."""

from __future__ import annotations

import re

from dsl import ast as a
from dsl import schema as s
from dsl.builtins import BUILTINS
from dsl.check.names import did_you_mean
from dsl.check.report import Report
from dsl.schema import Ty

_MONTH_TEXT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def is_month_text(e: a.Expr) -> bool:
    """A month may be written as text, ``"2026-12"``."""
    return isinstance(e, a.Text) and bool(_MONTH_TEXT.match(e.value))


def day_of_month(report: Report, day: a.Number) -> None:
    """A monthly date must exist in every month."""
    if not 1 <= day.value <= 28:
        report.error(
            "E207", f"day {day.text} is not in every month", day.span, "use a day from 1 to 28"
        )


def lookup_type(report: Report, e: a.Lookup, keys: list[Ty]) -> Ty:
    """``table[key, …]`` given its keys' types."""
    name = ".".join(e.table)
    table = s.TABLES.get(name)
    if table is None:
        return report.unknown(
            "E202", f"unknown table '{name}'", e.span, did_you_mean(name, s.TABLES)
        )
    if len(keys) != len(table.keys):
        want = ", ".join(table.keys)
        return report.unknown(
            "E204", f"{name} takes {len(table.keys)} key(s): [{want}]", e.span, None
        )
    for key, ty in zip(e.keys, keys, strict=True):
        if ty.name not in (s.TEXT, s.UNKNOWN):
            report.error("E203", f"a table key must be text, not {ty.name}", key.span)
    return Ty(s.NUMBER)


def call_type(report: Report, e: a.Call, args: list[Ty]) -> Ty:
    """``func(arg, …)`` given its arguments' types."""
    fn = BUILTINS.get(e.func)
    if fn is None:
        return report.unknown(
            "E204", f"unknown function '{e.func}'", e.span, did_you_mean(e.func, BUILTINS)
        )
    too_many = len(args) > len(fn.params) and not fn.variadic
    if len(args) < fn.required or too_many:
        return report.unknown(
            "E204", f"wrong number of arguments to {e.func}", e.span, f"use {fn.arity_text()}"
        )
    for i, (arg, ty) in enumerate(zip(e.args, args, strict=True)):
        want = fn.params[min(i, len(fn.params) - 1)]
        if s.MONTH in want and is_month_text(arg):
            report.types[arg] = Ty(s.MONTH)
        elif ty.name not in want and ty.name != s.UNKNOWN:
            report.error(
                "E203",
                f"argument {i + 1} of {e.func} must be {' or '.join(sorted(want))}, not {ty.name}",
                arg.span,
            )
    _literal_args(report, e)
    return Ty(fn.result)


def _literal_args(report: Report, e: a.Call) -> None:
    if e.func == "signed_by":
        for arg, valid, what in zip(
            e.args, (s.ROLES, s.DOCUMENTS), ("role", "document"), strict=False
        ):
            if not isinstance(arg, a.Text):
                report.error(
                    "E207",
                    f"the {what} of signed_by must be written in quotes",
                    arg.span,
                    f"{what}s: {', '.join(valid)}",
                )
            elif arg.value not in valid:
                hint = did_you_mean(arg.value, valid) or f"{what}s: {', '.join(valid)}"
                report.error("E207", f"unknown {what} '{arg.value}'", arg.span, hint)
    if e.func == "monthly_deadline" and len(e.args) > 1:
        day = e.args[1]
        if isinstance(day, a.Number):
            day_of_month(report, day)
