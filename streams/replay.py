"""``orderhub replay``: past events through a rule set, in-process, on event time.

"What would have fired last month?" The events of a JSONL file are applied to fresh tables
in file order (the order the worker would have seen them) and judged by the engine exactly
as the live worker does; the clock is the events' own time, and at the end it is moved to
the latest event time (or ``--until``) so that deadlines due by then fire. A line that is
not a valid event is reported with its line number and skipped.

``--compare`` runs a second rule set over the same events and shows which alerts (by
fingerprint and status) it adds or removes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from dsl.calendar import DEFAULT_CALENDAR
from streams.engine import Engine, EngineError
from streams.exceptions import StreamsError
from streams.models import Alert, Event, UnknownEventType, parse_event
from streams.ruleload import load_rule_set, shown_errors
from streams.state import apply_event, empty_tables


class ReplayError(StreamsError, ValueError):
    """The rule set or the events file cannot be used; the message says why.

    ``exit_code`` follows the rules commands: 1 the rules have errors, 2 usage or I/O.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- input ---------------------------------------------------------------------------------


def parse_line(text: str) -> Event:
    """One JSONL line as an event; raises ``ValueError`` (with a short reason) if it is not."""
    try:
        return parse_event(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from exc
    except UnknownEventType as exc:
        raise ValueError(str(exc).split(";")[0]) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ValueError(f"{where}: {first['msg']} ({exc.error_count()} problem(s))") from exc


def read_events(
    lines: Iterable[str], on_bad: Callable[[int, str], None]
) -> Iterator[tuple[int, Event]]:
    """``(line number, event)`` for each valid line; ``on_bad(line, reason)`` for the rest.

    Blank lines and lines starting with ``#`` are skipped silently.
    """
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield number, parse_line(stripped)
        except ValueError as exc:
            on_bad(number, str(exc))


# --- the rule set --------------------------------------------------------------------------


def load_engine(rules_dir: Path, timezone: str = DEFAULT_CALENDAR.zone.key) -> Engine:
    """An engine for ``rules_dir/*.rule`` and ``rules_dir/calendars``, built as the live
    worker builds its own (``streams.ruleload.load_rule_set``) with the deployment's
    business ``timezone``; refuses a rule set with errors (``ReplayError`` lists them)."""
    if not rules_dir.is_dir():
        raise ReplayError(f"{rules_dir}: not a directory of rule files")
    try:
        paths, calendars = sorted(rules_dir.glob("*.rule")), rules_dir / "calendars"
        rule_set = load_rule_set(paths, calendars, timezone)
        if rule_set.errors:
            shown = shown_errors(rule_set, paths, calendars)
            raise ReplayError(f"{rules_dir}: the rules have errors\n{shown}", exit_code=1)
        return rule_set.engine()
    except EngineError as exc:
        raise ReplayError(str(exc), exit_code=1) from exc


# --- running -------------------------------------------------------------------------------


@dataclass
class Replay:
    """What one rule set made of the events."""

    alerts: list[Alert] = field(default_factory=list)
    events: int = 0
    last_time: datetime | None = None
    end: datetime | None = None  # the clock at the end: the last event time or --until
    rule_ids: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # rule id -> failed evaluations


def run(engine: Engine, events: Iterable[tuple[int, Event]], until: datetime | None) -> Replay:
    """Apply and judge every event (``seq`` = its line number), then tick to the end."""
    tables = empty_tables()
    result = Replay(rule_ids=list(engine.rules))
    for seq, event in events:
        if apply_event(tables, event, seq):  # a duplicate is not judged twice
            result.alerts += engine.on_event(tables, event, seq)
        result.events += 1
        if result.last_time is None or event.event_time > result.last_time:
            result.last_time = event.event_time
    result.end = max((t for t in (result.last_time, until) if t is not None), default=None)
    if result.end is not None:
        result.alerts += engine.on_tick(tables, result.end)
    result.errors = dict(engine.errors)
    return result


# --- output --------------------------------------------------------------------------------


def alert_json(alert: Alert) -> str:
    return alert.model_dump_json()


def _key(alert: Alert) -> str:
    return ",".join(f"{k}={v}" for k, v in alert.key.items())


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"


def alerts_table(alerts: Sequence[Alert], marks: Sequence[str] | None = None) -> str:
    """One alert a row: time, status, severity, rule, key, message."""
    rows = [[a.at.isoformat(), a.status, a.severity, a.rule_id, _key(a), a.message] for a in alerts]
    header = ["at", "status", "severity", "rule", "key", "message"]
    if marks is not None:
        rows = [[m, *r] for m, r in zip(marks, rows, strict=True)]
        header = ["", *header]
    return _table(header, rows)


def counts(replay: Replay) -> dict[str, tuple[int, int]]:
    """Per rule of the set (and any other rule that alerted): (fired, resolved)."""
    result = {rule_id: (0, 0) for rule_id in replay.rule_ids}
    for alert in replay.alerts:
        fired, resolved = result.get(alert.rule_id, (0, 0))
        if alert.status == "firing":
            result[alert.rule_id] = (fired + 1, resolved)
        else:
            result[alert.rule_id] = (fired, resolved + 1)
    return result


def summary_table(replay: Replay) -> str:
    rows = [
        [rule_id, str(fired), str(resolved), str(replay.errors.get(rule_id, 0))]
        for rule_id, (fired, resolved) in sorted(counts(replay).items())
    ]
    return _table(["rule", "fired", "resolved", "not evaluated"], rows)


def compare_table(base: Replay, other: Replay) -> str:
    a, b = counts(base), counts(other)
    rows = []
    for rule_id in sorted({*a, *b}):
        fa, ra = a.get(rule_id, (0, 0))
        fb, rb = b.get(rule_id, (0, 0))
        rows.append([rule_id, str(fa), str(fb), str(ra), str(rb)])
    return _table(["rule", "fired", "→ fired", "resolved", "→ resolved"], rows)


def difference(base: Replay, other: Replay) -> tuple[list[Alert], list[Alert]]:
    """Alerts (by fingerprint and status) that ``other`` adds, and that it removes."""

    def identities(replay: Replay) -> dict[tuple[str, str], Alert]:
        found: dict[tuple[str, str], Alert] = {}
        for alert in replay.alerts:
            found.setdefault((alert.fingerprint, alert.status), alert)
        return found

    a, b = identities(base), identities(other)
    added = [alert for ident, alert in b.items() if ident not in a]
    removed = [alert for ident, alert in a.items() if ident not in b]
    return added, removed


# --- the command ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayOptions:
    rules_dir: Path
    events: Path
    compare: Path | None = None
    format: str = "jsonl"  # "jsonl" | "table"
    until: datetime | None = None
    timezone: str = DEFAULT_CALENDAR.zone.key  # business zone: ``ORDERHUB_TIMEZONE``


def parse_until(text: str, timezone: str) -> datetime:
    """``--until``: an ISO date-time; without an offset it is in the business ``timezone``
    (a bare date means its midnight)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReplayError(f"--until {text!r}: not a time like 2026-11-30T18:00") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(timezone))


def _read(path: Path, err: TextIO) -> list[tuple[int, Event]]:
    def bad(line: int, reason: str) -> None:
        err.write(f"{path}:{line}: skipped: {reason}\n")

    try:
        with path.open(encoding="utf-8") as lines:
            return list(read_events(lines, bad))
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:  # a binary or non-UTF-8 file: usage, not a crash
        raise ReplayError(f"{path}: cannot read: not UTF-8 text ({exc.reason})") from exc


def main(options: ReplayOptions, out: TextIO, err: TextIO) -> int:
    """Run the command; returns the exit code. Raises ``ReplayError`` for unusable input."""
    # Both rule sets load before the events are read: a rule error is then the only thing
    # reported, not the last line after every skipped event and a whole first replay.
    engine = load_engine(options.rules_dir, options.timezone)
    compare = load_engine(options.compare, options.timezone) if options.compare else None
    events = _read(options.events, err)
    base = run(engine, events, options.until)
    if compare is None:
        _print_one(base, options.format, out, err)
    else:
        other = run(compare, events, options.until)
        _print_difference(base, other, options.format, out, err)
    return 0


def _print_one(replay: Replay, fmt: str, out: TextIO, err: TextIO) -> None:
    if fmt == "jsonl":
        out.writelines(alert_json(a) + "\n" for a in replay.alerts)
        # The summary goes to stderr so that stdout stays pure JSONL for jq and friends.
        err.write(_footer(replay) + summary_table(replay))
    else:
        out.write(alerts_table(replay.alerts) + "\n" + _footer(replay) + summary_table(replay))


def _print_difference(base: Replay, other: Replay, fmt: str, out: TextIO, err: TextIO) -> None:
    added, removed = difference(base, other)
    if fmt == "jsonl":
        for change, alerts in (("added", added), ("removed", removed)):
            out.writelines(
                json.dumps({"change": change, "alert": a.model_dump(mode="json")}) + "\n"
                for a in alerts
            )
        err.write(_footer(base) + compare_table(base, other))
    else:
        marks = ["+"] * len(added) + ["-"] * len(removed)
        out.write(f"{len(added)} added, {len(removed)} removed\n")
        if marks:
            out.write(alerts_table([*added, *removed], marks))
        out.write("\n" + _footer(base) + compare_table(base, other))


def _footer(replay: Replay) -> str:
    end = replay.end.isoformat() if replay.end else "-"
    return f"{replay.events} events, clock at {end}, {len(replay.alerts)} alerts\n"
