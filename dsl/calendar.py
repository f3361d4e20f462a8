"""Working calendars: working days, 调休, working hours and business-time arithmetic.

A rule's durations like ``3 business hours`` and functions like ``on_schedule`` and
``is_working_day`` are answered here. Calendars are loaded from YAML files
(``rules/calendars/*.yaml``); a rule that names none uses ``DEFAULT_CALENDAR``.

Pure: no clock, no environment. Every datetime that goes in must be timezone-aware; every
datetime that comes out is aware and expressed in the calendar's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from dsl.errors import DslError

# A calendar without a single working day would make every search below loop forever;
# ten years without one is certainly a broken calendar.
_MAX_SEARCH_DAYS = 3660


class CalendarError(DslError, ValueError):
    """A calendar file that cannot be read, or a question a calendar cannot answer.

    ``line`` and ``col`` (1-based) are where in the file the problem is, when known.
    """

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


class _Str(str):
    """A text read from a calendar file, with where it was written."""

    line: int | None = None
    col: int | None = None


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML where a date stays text (checked here, with its place) and every text
    knows its line: a date such as 2026-02-30 is a diagnostic, not a ValueError."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith(":timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> _Str:
    text = _Str(loader.construct_scalar(node))
    text.line, text.col = node.start_mark.line + 1, node.start_mark.column + 1
    return text


_YamlLoader.add_constructor("tag:yaml.org,2002:str", _construct_text)


def _error(message: str, value: Any) -> CalendarError:
    return CalendarError(message, getattr(value, "line", None), getattr(value, "col", None))


@dataclass(frozen=True)
class Calendar:
    """A named working calendar in one time zone.

    ``holidays`` are days off that would otherwise be working days (weekend days may be
    listed too); ``workdays`` are weekend days that are working days (调休) and win over
    ``holidays``. ``working_hours`` are the (start, end) periods of a working day, sorted.
    """

    name: str
    zone: ZoneInfo
    working_hours: list[tuple[time, time]]
    holidays: set[date]
    workdays: set[date]

    # Calendars are looked up by name; hashing the mutable collections would fail.
    def __hash__(self) -> int:
        return hash((self.name, self.zone.key))

    # --- days ---------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Mon–Fri and not a holiday, or a 调休 working weekend day."""
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return next(self._working_days_after(d))

    def on_schedule(self, d: date, weekdays: frozenset[int]) -> bool:
        """True when ``d`` is a release day of a weekly schedule (Mon=0 … Sun=6).

        ``d`` must be a working day and either be one of ``weekdays`` or be the first
        working day after a listed weekday that was not a working day (a Monday holiday
        moves the release to Tuesday).
        """
        if not self.is_working_day(d):
            return False
        if d.weekday() in weekdays:
            return True
        day = d - timedelta(days=1)
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                return False
            if day.weekday() in weekdays:
                return True
            day -= timedelta(days=1)
        return False

    def _working_days_after(self, d: date) -> Iterator[date]:
        for n in range(1, _MAX_SEARCH_DAYS):
            candidate = d + timedelta(days=n)
            if self.is_working_day(candidate):
                yield candidate
        raise CalendarError(f"calendar {self.name!r} has no working day after {d}")

    # --- times --------------------------------------------------------------------------

    def local(self, t: datetime) -> datetime:
        """``t`` expressed in the calendar's zone."""
        if t.tzinfo is None:
            raise CalendarError(f"naive datetime {t.isoformat()} given to calendar {self.name!r}")
        return t.astimezone(self.zone)

    def local_date(self, t: datetime) -> date:
        """The calendar date of ``t`` in the calendar's zone."""
        return self.local(t).date()

    def at(self, d: date, clock: time) -> datetime:
        """The aware datetime of ``clock`` on day ``d`` in the calendar's zone."""
        return datetime.combine(d, clock, tzinfo=self.zone)

    def start_of_day(self, d: date) -> datetime:
        """Midnight at the start of ``d``."""
        return self.at(d, time.min)

    def end_of_day(self, d: date) -> datetime:
        """The last instant of ``d`` (23:59:59.999999), so that ``t <= end_of_day(d)``
        holds for every time of that day."""
        return self.at(d, time.max)

    def monthly_deadline(self, year: int, month: int, day: int, clock: time) -> datetime:
        """``clock`` on ``day`` of the month; a day past the month's end is its last day."""
        first_next = date(year + month // 12, month % 12 + 1, 1)
        last = (first_next - timedelta(days=1)).day
        return self.at(date(year, month, min(day, last)), clock)

    # --- business time ------------------------------------------------------------------

    def add_business(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` advanced by ``amount`` of working time (working hours of working days).

        A start outside working hours begins at the next working period; a zero amount
        therefore returns the start of the next working period (or ``start`` itself when
        it lies inside one). An amount that ends exactly at a period's end returns that end.
        """
        if amount < timedelta(0):
            raise CalendarError(f"negative business duration {amount}")
        if not self.working_hours:
            raise CalendarError(f"calendar {self.name!r} has no working hours")
        remaining = amount
        cursor = self.local(start)
        for _ in range(_MAX_SEARCH_DAYS):
            day = cursor.date()
            if self.is_working_day(day):
                for begin, end in self.working_hours:
                    period_end = self.at(day, end)
                    if cursor >= period_end:
                        continue
                    period_start = max(cursor, self.at(day, begin))
                    available = period_end - period_start
                    if remaining <= available:
                        return period_start + remaining
                    remaining -= available
                    cursor = period_end
            cursor = self.start_of_day(day + timedelta(days=1))
        raise CalendarError(f"calendar {self.name!r}: {amount} of business time never ends")

    def business_days(self, start: datetime, n: int) -> datetime:
        """The same clock time on the ``n``-th working day after ``start``'s day."""
        if n < 0:
            raise CalendarError(f"negative number of business days {n}")
        local = self.local(start)
        day = local.date()
        for _ in range(n):
            day = self.next_working_day(day)
        return self.at(day, local.time())

    def add(self, start: datetime, amount: timedelta, business: bool) -> datetime:
        """``start`` + ``amount``: wall clock, or business time on this calendar.

        Business amounts of whole days count working days (``1 business day`` is the same
        clock time on the next working day); the rest counts working hours.
        """
        if not business:
            return self.local(start + amount)
        whole_days = timedelta(days=amount.days)
        after_days = self.business_days(start, amount.days)
        rest = amount - whole_days
        return after_days if rest == timedelta(0) else self.add_business(after_days, rest)


# --- loading -----------------------------------------------------------------------------


def _working_hours() -> list[tuple[time, time]]:
    return [(time(9, 0), time(12, 0)), (time(13, 0), time(18, 0))]


DEFAULT_CALENDAR = Calendar(
    name="default",
    zone=ZoneInfo("Asia/Shanghai"),
    working_hours=_working_hours(),
    holidays=set(),
    workdays=set(),
)
"""Mon–Fri, 09:00–12:00 and 13:00–18:00, no holidays, Asia/Shanghai."""


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        raise _error(f"{where}: expected a date, got a date and time {value}", value)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise _error(f"{where}: '{value}' is not a date YYYY-MM-DD", value) from exc
    raise _error(f"{where}: expected a date YYYY-MM-DD, got {value!r}", value)


def _as_time(value: Any, where: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError as exc:
            raise _error(f"{where}: '{value}' is not a time HH:MM", value) from exc
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 09:00 as sexagesimal minutes
        return time(value // 60, value % 60)
    raise _error(f'{where}: expected a time "HH:MM", got {value!r}', value)


def _parse_hours(raw: Any, where: str) -> list[tuple[time, time]]:
    if not isinstance(raw, list) or not raw:
        raise CalendarError(f"{where}: working_hours must be a list of [start, end] pairs")
    periods: list[tuple[time, time]] = []
    for i, pair in enumerate(raw):
        here = f"{where}: working_hours[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise _error(f"{here}: expected [start, end]", pair)
        begin, end = _as_time(pair[0], here), _as_time(pair[1], here)
        if begin >= end:
            raise _error(f"{here}: start {begin} is not before end {end}", pair[0])
        periods.append((begin, end))
    periods.sort()
    for (_, end), (begin, _) in pairwise(periods):
        if begin < end:
            raise CalendarError(f"{where}: working hours overlap at {begin}")
    return periods


def _date_span(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


def _parse_holidays(raw: Any, where: str) -> set[date]:
    days: set[date] = set()
    for i, item in enumerate(raw or []):
        here = f"{where}: holidays[{i}]"
        if isinstance(item, dict):
            first = _as_date(item.get("from"), f"{here}.from")
            last = _as_date(item.get("to", item.get("from")), f"{here}.to")
            if last < first:
                raise _error(f"{here}: 'to' {last} is before 'from' {first}", item.get("to"))
            days.update(_date_span(first, last))
        else:
            days.add(_as_date(item, here))
    return days


def calendar_from_dict(data: Any, where: str) -> Calendar:
    """Build a calendar from the decoded YAML schema of ``rules/calendars/*.yaml``."""
    if not isinstance(data, dict):
        raise CalendarError(f"{where}: expected a mapping with name, timezone, working_hours")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise CalendarError(f"{where}: 'name' is required")
    try:
        zone = ZoneInfo(str(data.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        zone_name = data.get("timezone")
        raise _error(f"{where}: unknown timezone '{zone_name}'", zone_name) from exc
    raw_hours = data.get("working_hours")
    hours = _working_hours() if raw_hours is None else _parse_hours(raw_hours, where)
    workdays = {_as_date(d, f"{where}: workdays") for d in data.get("workdays") or []}
    holidays = _parse_holidays(data.get("holidays"), where)
    return Calendar(str(name), zone, hours, holidays, workdays)


def calendar_from_text(text: str, path: str) -> Calendar:
    """A calendar file's text as a calendar. Raises ``CalendarError`` naming ``path``, with
    the line (and column) of the problem when it has one."""
    try:
        data = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader: builds no objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise CalendarError(f"{path}: not valid YAML: {exc.problem}", line, col) from exc
    # A value YAML itself cannot build (`!!timestamp 2026-02-30`), or nesting too deep
    # for its recursive composer: the file's problem, not the program's.
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise CalendarError(f"{path}: not a calendar: {exc}") from exc
    return calendar_from_dict(data, path)


def load_calendar(path: str | Path) -> Calendar:
    """Read one calendar YAML file. Raises ``CalendarError`` with the file name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"{path}: cannot read: {exc}") from exc
    return calendar_from_text(text, str(path))


def load_calendars(directory: str | Path) -> dict[str, Calendar]:
    """Every ``*.yaml`` / ``*.yml`` calendar in ``directory``, by name (none if missing)."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    calendars: dict[str, Calendar] = {}
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        cal = load_calendar(path)
        if cal.name in calendars:
            raise CalendarError(f"{path}: calendar {cal.name!r} is defined twice")
        calendars[cal.name] = cal
    return calendars
