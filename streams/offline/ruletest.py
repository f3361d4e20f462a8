"""`orderhub rules test`: unit tests for rule files, in the manner of `promtool test rules`.

A test file (YAML) names the rule files it tests and holds cases. Each case seeds the
tables, plays a timeline of events and clock steps through the real engine on a virtual
clock, and compares the alerts produced with the alerts it expects. The comparison is
exact: an alert nobody expected fails the case just as a missing one does, because an
analyst who adds a rule must see what else it now says.

Everything here is pure except ``load_test_file`` and ``run_test_file``, which read the
test file, the rule files and the calendars. ``run_case`` takes an engine factory, so it
runs with any ``streams.core.hooks.RuleJudge`` (every rule hook is one).

The format is documented for analysts in ``docs/rules.md`` ("Testing rules").
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ValidationError

from contract.events import EVENT_TYPES, Alert, Event, UnknownEventType, parse_event
from streams.core.hooks import RuleJudge
from streams.core.state import TABLE_NAMES, apply_event, empty_tables
from streams.exceptions import StreamsError

DEFAULT_TIMEZONE = "Asia/Shanghai"
TEST_SOURCE = "rules-test"
_EXPECT_FIELDS = {
    "rule",
    "key",
    "status",
    "at",
    "severity",
    "values",
    "penalty",
    "labels",
    "message",
}
_CASE_FIELDS = {"name", "defaults", "tables", "events", "clock", "expect", "expect_none"}
_FILE_FIELDS = {"rules", "calendar_dir", "default_calendar", "timezone", "defaults", "tests"}


class RuleTestError(StreamsError):
    """A test file that cannot be read or does not follow the format."""


# --- the test file, parsed -----------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedAlert:
    """One alert a case expects. Fields left out are not compared (``key``/``values``/
    ``penalty``/``labels`` are compared as subsets)."""

    rule: str
    status: str = "firing"
    key: Mapping[str, str] = field(default_factory=dict)
    at: datetime | None = None
    severity: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    penalty: Mapping[str, Any] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True)
class Tick:
    """A clock step: timers due by ``to`` fire (``Engine.on_tick``)."""

    to: datetime


Step = Event | Tick


@dataclass(frozen=True)
class RuleTestCase:
    name: str
    seed_events: tuple[Event, ...]
    seed_tables: Mapping[str, Mapping[str, Any]]
    steps: tuple[Step, ...]
    expect: tuple[ExpectedAlert, ...]


@dataclass(frozen=True)
class RuleTestFile:
    path: Path
    rules: tuple[Path, ...]
    calendar_dir: Path | None
    default_calendar: str | None
    cases: tuple[RuleTestCase, ...]
    zone: ZoneInfo  # of times written without an offset


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case; ``problems`` is the readable diff (empty when it passed)."""

    file: str
    name: str
    problems: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


# --- reading values --------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|min|s)")
_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "min": 60, "s": 1}


def parse_time(value: Any, zone: ZoneInfo, where: str) -> datetime:
    """A time from YAML: ``2026-03-02 09:00`` (the file's zone) or ISO-8601 with offset."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RuleTestError(f"{where}: {value!r} is not a time like 2026-03-02 09:00") from None
    else:
        raise RuleTestError(f"{where}: expected a time, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_duration(text: str) -> timedelta | None:
    """``10d``, ``3h``, ``1h30min``, ``2w`` as a timedelta; None when it is not one."""
    compact = text.replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        return None
    seconds = sum(Decimal(n) * _DURATION_UNITS[u] for n, u in parts)
    return timedelta(seconds=float(seconds))


def _as_decimal(value: Any) -> Decimal | None:
    """Numbers, money (``200 CNY``) and percents (``10%`` = 0.10) as a Decimal."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = value.strip().replace(",", "")
    scale = Decimal(1)
    if text.endswith("%"):
        text, scale = text[:-1], Decimal("0.01")
    elif text.upper().endswith("CNY"):
        text = text[:-3]
    try:
        return Decimal(text.strip()) * scale
    except InvalidOperation:
        return None


def _same_text(expected: Any, actual: str, zone: ZoneInfo) -> bool:
    """An alert value in its JSON text: a duration (``"7d 1min"``), an ISO time, a decimal
    string (``"30000"``) or plain text."""
    duration = parse_duration(actual)
    if duration is not None:
        return isinstance(expected, str) and parse_duration(expected) == duration
    if "T" in actual and ":" in actual:
        try:
            return parse_time(expected, zone, "value") == datetime.fromisoformat(actual)
        except (RuleTestError, ValueError):
            return False
    want, got = _as_decimal(expected), _as_decimal(actual)
    if want is not None and got is not None:
        return want == got
    return str(expected) == actual


def same_value(expected: Any, actual: Any, zone: ZoneInfo) -> bool:
    """Whether an expected YAML value means the value an alert carries.

    Alerts carry Python values (Decimal, int, timedelta, datetime, date) or their JSON
    text; tests write them the way the rule language does (``200 CNY``, ``10d``, ``10%``).
    """
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or str(expected).lower() == str(actual).lower()
    if expected is None or actual is None:
        return expected is actual
    if isinstance(actual, timedelta):
        duration = parse_duration(expected) if isinstance(expected, str) else None
        return duration == actual
    if isinstance(actual, datetime):
        try:
            return parse_time(expected, zone, "value") == actual
        except RuleTestError:
            return False
    if isinstance(actual, date):
        return str(expected) == actual.isoformat()
    if isinstance(actual, str):
        return _same_text(expected, actual, zone)
    want, got = _as_decimal(expected), _as_decimal(actual)
    if want is not None and got is not None:
        return want == got
    if isinstance(actual, Mapping | list):
        return bool(expected == actual)
    return str(expected) == str(actual)


# --- parsing a test file ----------------------------------------------------------------------


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RuleTestError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RuleTestError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _no_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RuleTestError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")


@dataclass
class _EventMaker:
    """Fills in the boilerplate of timeline events: id, source, event time, defaults."""

    zone: ZoneInfo
    prefix: str
    count: int = 0

    def make(self, raw: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> Event:
        data = dict(raw)
        if "at" not in data:
            raise RuleTestError(f"{where}: an event needs `at:` (its event time)")
        at = parse_time(data.pop("at"), self.zone, where)
        cls = EVENT_TYPES.get(str(data.get("type")))
        fields = cls.model_fields if cls is not None else {}
        # Defaults (order_id, region, model …) apply only to types that have the field.
        filled = {k: v for k, v in defaults.items() if k in fields and k not in data}
        self.count += 1
        record = {
            "event_id": f"{self.prefix}-{self.count}",
            "source": TEST_SOURCE,
            **filled,
            **data,
            "event_time": at.isoformat(),
        }
        try:
            return parse_event(record)
        except (UnknownEventType, ValidationError) as exc:
            raise RuleTestError(f"{where}: {exc}") from None


def _parse_steps(
    raw: list[Any], maker: _EventMaker, defaults: Mapping[str, Any], where: str
) -> list[Step]:
    steps: list[Step] = []
    for i, item in enumerate(raw, 1):
        entry = _mapping(item, f"{where}[{i}]")
        if "advance_to" in entry:
            _no_unknown(entry, {"advance_to"}, f"{where}[{i}]")
            steps.append(Tick(parse_time(entry["advance_to"], maker.zone, f"{where}[{i}]")))
        else:
            steps.append(maker.make(entry, defaults, f"{where}[{i}] ({entry.get('type')})"))
    return steps


def _parse_tables(
    raw: Any, maker: _EventMaker, defaults: Mapping[str, Any], first: datetime | None, where: str
) -> tuple[tuple[Event, ...], dict[str, Any]]:
    """Seed events (a list) or table entries (a mapping of table -> key -> entry)."""
    if raw is None:
        return (), {}
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - set(TABLE_NAMES))
        if unknown:
            raise RuleTestError(f"{where}: unknown table(s) {unknown}; tables: {TABLE_NAMES}")
        return (), {name: _mapping(entries, f"{where}.{name}") for name, entries in raw.items()}
    seeds = []
    for i, item in enumerate(_list(raw, where), 1):
        entry = _mapping(item, f"{where}[{i}]")
        if "at" not in entry:
            if first is None:
                raise RuleTestError(f"{where}[{i}]: give `at:` (no timeline to take it from)")
            entry = {**entry, "at": first}  # seeds happen "before the timeline starts"
        seeds.append(maker.make(entry, defaults, f"{where}[{i}] ({entry.get('type')})"))
    return tuple(seeds), {}


def _parse_expected(raw: Any, zone: ZoneInfo, where: str) -> ExpectedAlert:
    data = _mapping(raw, where)
    _no_unknown(data, _EXPECT_FIELDS, where)
    if "rule" not in data:
        raise RuleTestError(f"{where}: an expected alert needs `rule:`")
    status = str(data.get("status", "firing"))
    if status not in ("firing", "resolved"):
        raise RuleTestError(f"{where}: status must be firing or resolved, got {status!r}")
    return ExpectedAlert(
        rule=str(data["rule"]),
        status=status,
        key={k: str(v) for k, v in _mapping(data.get("key", {}), f"{where}.key").items()},
        at=parse_time(data["at"], zone, f"{where}.at") if "at" in data else None,
        severity=str(data["severity"]) if "severity" in data else None,
        values=_mapping(data.get("values", {}), f"{where}.values"),
        penalty=_mapping(data["penalty"], f"{where}.penalty") if "penalty" in data else None,
        labels={k: str(v) for k, v in _mapping(data.get("labels", {}), where).items()},
        message=str(data["message"]) if "message" in data else None,
    )


def _parse_expect_list(data: Mapping[str, Any], zone: ZoneInfo, where: str) -> list[ExpectedAlert]:
    # Exactly one of the two, so that a case that forgot its expectations is an error
    # rather than a silent "expects nothing".
    has_expect, none = "expect" in data, data.get("expect_none") is True
    if has_expect == none:
        raise RuleTestError(f"{where}: give either `expect:` (a list) or `expect_none: true`")
    if none:
        return []
    items = _list(data["expect"], f"{where}.expect")
    if not items:
        raise RuleTestError(f"{where}: `expect:` is empty; write `expect_none: true`")
    return [_parse_expected(item, zone, f"{where}.expect[{i}]") for i, item in enumerate(items, 1)]


def _first_time(steps: Sequence[Step]) -> datetime | None:
    for step in steps:
        return step.to if isinstance(step, Tick) else step.event_time
    return None


def _parse_case(
    raw: Any, index: int, zone: ZoneInfo, file_defaults: Mapping[str, Any], where: str
) -> RuleTestCase:
    data = _mapping(raw, where)
    _no_unknown(data, _CASE_FIELDS, where)
    name = str(data.get("name") or f"case {index}")
    where = f"{where} {name!r}"
    defaults = {**file_defaults, **_mapping(data.get("defaults", {}), f"{where}.defaults")}
    maker = _EventMaker(zone, prefix=f"t{index}")
    steps = _parse_steps(_list(data.get("events", []), f"{where}.events"), maker, defaults, where)
    if "clock" in data:
        steps.append(Tick(parse_time(data["clock"], zone, f"{where}.clock")))
    seeds, tables = _parse_tables(
        data.get("tables"), maker, defaults, _first_time(steps), f"{where}.tables"
    )
    expect = _parse_expect_list(data, zone, where)
    return RuleTestCase(name, seeds, tables, tuple(steps), tuple(expect))


def parse_test_file(text: str, path: Path, timezone: str = DEFAULT_TIMEZONE) -> RuleTestFile:
    """Parse and validate a test file's text (``path`` resolves its relative paths).

    ``timezone``: the deployment's business time zone (the command passes
    ``ORDERHUB_TIMEZONE``), used unless the file names its own: times written without an
    offset are in it, and so is the built-in calendar of rules that name none."""
    try:
        data = _mapping(yaml.safe_load(text), str(path))
    except yaml.YAMLError as exc:
        raise RuleTestError(f"{path}: not valid YAML: {exc}") from None
    _no_unknown(data, _FILE_FIELDS, str(path))
    zone = _zone(data.get("timezone", timezone), path)
    base = path.parent
    rules = tuple(_near(base, p) for p in _list(data.get("rules"), f"{path}: rules"))
    if not rules:
        raise RuleTestError(f"{path}: `rules:` lists no rule files")
    if "calendar_dir" in data:
        calendar_dir: Path | None = _near(base, data["calendar_dir"])
    else:
        guess = rules[0].parent / "calendars"
        calendar_dir = guess if guess.is_dir() else None
    defaults = _mapping(data.get("defaults", {}), f"{path}: defaults")
    cases = _list(data.get("tests"), f"{path}: tests")
    parsed = [
        _parse_case(c, i, zone, defaults, f"{path}: tests[{i}]") for i, c in enumerate(cases, 1)
    ]
    names = [c.name for c in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RuleTestError(f"{path}: duplicate case names {dupes}")
    default_calendar = data.get("default_calendar")
    return RuleTestFile(
        path,
        rules,
        calendar_dir,
        str(default_calendar) if default_calendar else None,
        tuple(parsed),
        zone,
    )


def _zone(name: Any, path: Path) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleTestError(f"{path}: timezone: unknown time zone {name!r}") from None


def _near(base: Path, relative: Any) -> Path:
    """A path relative to the test file, without ``..`` (it is shown in messages)."""
    return Path(os.path.normpath(base / str(relative)))


def load_test_file(path: Path, timezone: str = DEFAULT_TIMEZONE) -> RuleTestFile:
    """Read and parse one test file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleTestError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_test_file(text, path, timezone)


# --- running a case ------------------------------------------------------------------------


def play(case: RuleTestCase, engine: RuleJudge) -> list[Alert]:
    """Seed the tables, play the timeline through ``engine``, return every alert in order.

    Seed events change the tables only (no rule sees them); timeline events are applied to
    the tables and then evaluated, exactly as the live worker does; clock steps tick.
    """
    tables = empty_tables()
    for name, entries in case.seed_tables.items():
        tables[name].update({k: dict(v) for k, v in entries.items()})
    seq = 0
    for event in case.seed_events:
        apply_event(tables, event, seq)
        seq += 1
    alerts: list[Alert] = []
    for step in case.steps:
        if isinstance(step, Tick):
            alerts.extend(engine.on_tick(tables, step.to))
        else:
            if apply_event(tables, step, seq):  # a duplicate is not judged twice
                alerts.extend(engine.on_event(tables, step, seq))
            seq += 1
    return alerts


def mismatches(want: ExpectedAlert, got: Alert, zone: ZoneInfo) -> list[str]:
    """How ``got`` differs from ``want``; empty when it matches."""
    out: list[str] = []

    def check(label: str, expected: Any, actual: Any) -> None:
        if not same_value(expected, actual, zone):
            out.append(f"{label}: expected {_show(expected)}, got {_show(actual)}")

    check("rule", want.rule, got.rule_id)
    check("status", want.status, got.status)
    for name, value in want.key.items():
        check(f"key.{name}", value, got.key.get(name))
    if want.at is not None:
        check("at", want.at, got.at)
    if want.severity is not None:
        check("severity", want.severity, got.severity)
    for name, value in want.values.items():
        check(f"values.{name}", value, got.values.get(name, "<absent>"))
    for name, value in want.labels.items():
        check(f"labels.{name}", value, got.labels.get(name))
    if want.message is not None and want.message not in got.message:
        out.append(f"message: expected to contain {want.message!r}, got {got.message!r}")
    if want.penalty is not None:
        penalty = got.penalty.model_dump() if got.penalty is not None else {}
        for name, value in want.penalty.items():
            check(f"penalty.{name}", value, penalty.get(name))
    return out


def match(
    expected: Sequence[ExpectedAlert], actual: Sequence[Alert], zone: ZoneInfo
) -> dict[int, int]:
    """A maximum one-to-one matching expected index -> actual index (Kuhn's algorithm).

    Greedy matching could pair a loose expectation with the alert a stricter one needed.
    """
    fits = [[j for j, a in enumerate(actual) if not mismatches(e, a, zone)] for e in expected]
    owner: dict[int, int] = {}  # actual -> expected

    def assign(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(expected)):
        assign(i, set())
    return {i: j for j, i in owner.items()}


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
        return str(value)
    return repr(value) if isinstance(value, str) else str(value)


def describe(alert: Alert) -> str:
    """One line per alert, the way the diff shows it."""
    key = ", ".join(f"{k}={v}" for k, v in sorted(alert.key.items()))
    values = ", ".join(f"{k}={_show(v)}" for k, v in alert.values.items())
    penalty = f" penalty {alert.penalty.amount} CNY to {alert.penalty.who}" if alert.penalty else ""
    return (
        f"{alert.rule_id} {alert.status} {{{key}}} at {_show(alert.at)} {alert.severity}"
        f"{penalty} values {{{values}}}"
    )


def _describe_expected(want: ExpectedAlert) -> str:
    key = ", ".join(f"{k}={v}" for k, v in sorted(want.key.items()))
    at = f" at {_show(want.at)}" if want.at is not None else ""
    return f"{want.rule} {want.status} {{{key}}}{at}"


def diff(expected: Sequence[ExpectedAlert], actual: Sequence[Alert], zone: ZoneInfo) -> list[str]:
    """The readable difference between expected and produced alerts (empty when equal)."""
    pairs = match(expected, actual, zone)
    used = set(pairs.values())
    lines: list[str] = []
    for i, want in enumerate(expected):
        if i in pairs:
            continue
        lines.append(f"missing alert:    {_describe_expected(want)}")
        near = _nearest(want, [a for j, a in enumerate(actual) if j not in used], zone)
        if near is not None:
            lines.append(f"  closest actual: {describe(near)}")
            lines.extend(f"    {m}" for m in mismatches(want, near, zone))
    lines.extend(f"unexpected alert: {describe(a)}" for j, a in enumerate(actual) if j not in used)
    return lines


def _nearest(want: ExpectedAlert, candidates: Sequence[Alert], zone: ZoneInfo) -> Alert | None:
    same_rule = [a for a in candidates if a.rule_id == want.rule]
    if not same_rule:
        return None
    return min(same_rule, key=lambda a: len(mismatches(want, a, zone)))


def run_case(
    case: RuleTestCase, make_engine: Callable[[], RuleJudge], file: str, zone: ZoneInfo
) -> CaseResult:
    """Run one case on a fresh engine and tables; the result holds the diff."""
    alerts = play(case, make_engine())
    return CaseResult(file, case.name, tuple(diff(case.expect, alerts, zone)), tuple(alerts))


# --- running files (reads rule files and calendars) -----------------------------------------


def engine_factory(
    test: RuleTestFile, replace: Mapping[Path, Path] | None = None
) -> Callable[[], RuleJudge]:
    """Load the file's rules (``replace`` swaps rule files, for mutants) and calendars once,
    as the live worker does (``streams.core.ruleload.load_rule_set``, in the file's time zone),
    and return a maker of fresh engines. Raises RuleTestError when the rules do not load."""
    from streams.core.engine import EngineError
    from streams.core.ruleload import load_rule_set, shown_errors

    swap = {p.resolve(): q for p, q in (replace or {}).items()}
    paths = [swap.get(p.resolve(), p) for p in test.rules]
    try:
        rule_set = load_rule_set(
            paths, test.calendar_dir, test.zone.key, default_calendar=test.default_calendar
        )
        if rule_set.errors:
            shown = shown_errors(rule_set, paths, test.calendar_dir)
            raise RuleTestError(f"{test.path}: the rules do not load:\n{shown}")
        rule_set.engine()  # fail here, once, on a rule set that makes no engine
    except EngineError as exc:
        raise RuleTestError(f"{test.path}: {exc}") from None
    return rule_set.engine


def run_test_file(
    path: Path, replace: Mapping[Path, Path] | None = None, timezone: str = DEFAULT_TIMEZONE
) -> list[CaseResult]:
    """Run every case of one test file. A file that cannot be used is one failed result."""
    try:
        test = load_test_file(path, timezone)
        make_engine = engine_factory(test, replace)
    except RuleTestError as exc:
        return [CaseResult(str(path), "(file)", (str(exc),))]
    return [run_case(case, make_engine, str(path), test.zone) for case in test.cases]


def collect(paths: Iterable[Path]) -> list[Path]:
    """Test files named by ``paths``: files as given; a directory gives its ``*.yaml``
    (or, for a rules directory with a ``tests/`` folder, the YAML files in it)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder = path / "tests" if (path / "tests").is_dir() else path
            found.extend(sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]))
        else:
            found.append(path)
    return found


def render(result: CaseResult) -> str:
    """``ok file: case`` or ``FAIL file: case`` followed by the indented diff."""
    head = f"{'ok  ' if result.ok else 'FAIL'} {result.file}: {result.name}"
    body = "".join(f"\n    {line}" for p in result.problems for line in p.splitlines())
    return head + body


def summary(results: Sequence[CaseResult]) -> str:
    failed = sum(1 for r in results if not r.ok)
    return f"{len(results) - failed} passed, {failed} failed"
