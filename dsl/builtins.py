"""The functions of the rule language, their signatures, and how values are shown.

Calendar-dependent functions call ``env.calendar`` (a ``dsl.calendar.Calendar``):
``is_working_day``, ``on_schedule``, ``start_of_day``, ``end_of_day``, ``zone``. A value
that is missing at run time raises ``Missing``; the compiled condition turns that into
"does not fire" (never an error for the engine). A function that fails on its data (a
calendar that has no working day after a date) is a different thing: the compiled call
raises ``EvaluationFailed``, which the engine counts as the rule's problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from dsl import schema as s
from dsl.compiled import Env
from dsl.errors import DslError


class Missing(DslError):
    """A value needed by an expression is missing (no order record, an unset field)."""


class EvaluationFailed(DslError):
    """A rule's own expression failed on the data at hand (a calendar out of range, an
    order field that does not convert, a value the rule needs that is missing).

    The one exception a compiled rule raises; the engine counts it for that rule
    (``Engine.errors``) and the evaluation does not fire. Anything else that escapes a
    compiled rule is a bug in our code and propagates.
    """


def need(value: Any) -> Any:
    if value is None:
        raise Missing
    return value


def local_date(env: Env, value: datetime | date) -> date:
    """The calendar date of a time in the rule calendar's zone (a date stays itself)."""
    if isinstance(value, datetime):
        return value.astimezone(env.calendar.zone).date()
    return value


def _month(value: str) -> tuple[int, int]:
    year, month = value.split("-")
    return int(year), int(month)


def shift_month(value: str, months: int) -> str:
    year, month = _month(value)
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# --- implementations: (env, *args) -> value --------------------------------------------------


def signed_by(env: Env, role: str, document: str = "order") -> bool:
    order = need(env.order)
    return f"{role}:{document}" in order.get("signatures", ())


def on_schedule(env: Env, when: datetime, *days: int) -> bool:
    return bool(env.calendar.on_schedule(local_date(env, when), frozenset(days)))


def weekday(env: Env, when: datetime | date) -> int:
    return local_date(env, when).weekday()


def date_of(env: Env, when: datetime) -> date:
    return local_date(env, when)


def is_working_day(env: Env, when: datetime | date) -> bool:
    return bool(env.calendar.is_working_day(local_date(env, when)))


def start_of_day(env: Env, day: date) -> datetime:
    return env.calendar.start_of_day(day)  # type: ignore[no-any-return]


def end_of_day(env: Env, day: date) -> datetime:
    return env.calendar.end_of_day(day)  # type: ignore[no-any-return]


def next_month(env: Env, value: datetime | str) -> str:
    if isinstance(value, datetime):
        d = local_date(env, value)
        value = f"{d.year:04d}-{d.month:02d}"
    return shift_month(value, 1)


def previous_month(env: Env, value: str) -> str:
    return shift_month(value, -1)


def monthly_deadline(env: Env, month: str, day: int | Decimal, at: time) -> datetime:
    year, mon = _month(month)
    try:
        return datetime(year, mon, int(day), at.hour, at.minute, tzinfo=env.calendar.zone)
    except ValueError as err:  # the 31st of a 30-day month: not a deadline that exists
        raise Missing from err


@dataclass(frozen=True)
class Builtin:
    """A function of the language: parameter types, result type, implementation."""

    name: str
    params: tuple[frozenset[str], ...]
    result: str
    impl: Callable[..., Any]
    required: int  # how many parameters must be given
    variadic: bool = False  # the last parameter repeats
    pure: bool = False  # no calendar, no order: may be folded at build time

    def arity_text(self) -> str:
        names = ["|".join(sorted(p)) for p in self.params]
        shown = [n if i < self.required else f"[{n}]" for i, n in enumerate(names)]
        return f"{self.name}({', '.join(shown)}{', …' if self.variadic else ''})"


def _p(*names: str) -> frozenset[str]:
    return frozenset(names)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("signed_by", (_p(s.TEXT), _p(s.TEXT)), s.BOOL, signed_by, 1),
        Builtin("on_schedule", (_p(s.TIME, s.DATE), _p(s.WEEKDAY)), s.BOOL, on_schedule, 2, True),
        Builtin("weekday", (_p(s.TIME, s.DATE),), s.WEEKDAY, weekday, 1),
        Builtin("date", (_p(s.TIME),), s.DATE, date_of, 1),
        Builtin("is_working_day", (_p(s.TIME, s.DATE),), s.BOOL, is_working_day, 1),
        Builtin("start_of_day", (_p(s.DATE),), s.TIME, start_of_day, 1),
        Builtin("end_of_day", (_p(s.DATE),), s.TIME, end_of_day, 1),
        Builtin("next_month", (_p(s.TIME, s.MONTH),), s.MONTH, next_month, 1),
        Builtin("previous_month", (_p(s.MONTH),), s.MONTH, previous_month, 1, pure=True),
        Builtin(
            "monthly_deadline",
            (_p(s.MONTH), _p(s.NUMBER), _p(s.TIME_OF_DAY)),
            s.TIME,
            monthly_deadline,
            3,
        ),
    )
}


# --- showing values in messages ----------------------------------------------------------------

MISSING_TEXT = "(missing)"
WEEKDAY_NAMES = tuple(s.WEEKDAYS)


def format_duration(value: timedelta) -> str:
    """`8d 3h`, `45min`, `-2h`; seconds only when there is nothing larger."""
    sign = "-" if value < timedelta(0) else ""
    total = int(abs(value).total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if not parts:
        parts = [f"{seconds}s"] if seconds else ["0min"]
    return sign + " ".join(parts)


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return f"{int(value):,}"
        return f"{value.normalize():,f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_value(value: Any, type_name: str, zone: Any = None) -> str:
    """A value as an analyst reads it: 1,200.00 CNY, 30%, 8d 3h, 2026-03-05T14:00:00+08:00."""
    if value is None:
        return MISSING_TEXT
    if type_name == s.MONEY:
        return f"{Decimal(value):,.2f} CNY"
    if type_name == s.PERCENT:
        return f"{(Decimal(value) * 100).normalize():f}%"
    if type_name == s.NUMBER:
        return _number(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        shown = value.astimezone(zone) if zone is not None else value
        return shown.replace(microsecond=0).isoformat()
    if isinstance(value, date | time):
        return value.isoformat(timespec="minutes") if isinstance(value, time) else value.isoformat()
    if type_name == s.WEEKDAY and isinstance(value, int):
        return WEEKDAY_NAMES[value % 7]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, frozenset | set | list | tuple):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)
