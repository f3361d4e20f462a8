"""``orderhub replay``: past events through a rule set, in-process, on event time.

"What would have fired last month?" The events of a JSONL file are applied to fresh tables
in event-time order (a stable sort: events of the same time keep their file order) and
judged by the engine exactly as the live worker does, with the rule set it would build
(``streams.core.ruleload.load_rule_set``, in the deployment's time zone); the clock is the
events' own time, and at the end it is moved to the latest event time (or ``--until``) so
that deadlines due by then fire. A line that is not a valid event is reported with its line
number and skipped. Lines out of time order are counted on stderr, or, with
``strict_order``, refused by line number.

Memory follows the open state, not the file: a first pass keeps only where each event lies
and its time (``EventIndex``, tens of bytes an event); the events are parsed again one at a
time in time order, and alerts are written as they come (``run``'s ``on_alert``).

``--compare`` runs a second rule set over the same events and shows which alerts (by
fingerprint and status) it adds or removes; it keeps the alerts of both runs.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from contract.events import Alert, Event, UnknownEventType, parse_event
from dsl.calendar import DEFAULT_CALENDAR
from streams.core.engine import Engine, EngineError
from streams.core.ruleload import RuleSet, load_rule_set, shown_errors
from streams.core.state import apply_event, empty_tables
from streams.exceptions import StreamsError


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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAMED_LINES = 10  # out-of-order lines named at most, in a refusal


@dataclass
class EventIndex:
    """Where each valid event of a file lies and its time: 16 bytes an event, where the
    parsed events would take about 2 KB each."""

    offsets: array[int] = field(default_factory=lambda: array("q"))  # byte offset, file order
    times: array[int] = field(default_factory=lambda: array("q"))  # µs since 1970, file order
    late: int = 0  # lines earlier than a line before them: what the sort moves
    named: list[str] = field(default_factory=list)  # the first NAMED_LINES of them

    def __len__(self) -> int:
        return len(self.offsets)

    def order(self) -> Sequence[int]:
        """Indices in event-time order; a stable sort, so events of one time keep their file
        order (none needed, and no memory taken, for a file already in order)."""
        if not self.late:
            return range(len(self.offsets))
        return array("q", sorted(range(len(self.times)), key=self.times.__getitem__))


def _micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


def _decoded(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # a binary or non-UTF-8 file: usage, not a crash
        raise ReplayError(f"{where}: cannot read: not UTF-8 text ({exc.reason})") from exc


def index_events(
    stream: BinaryIO, on_bad: Callable[[int, str], None], where: str = "events"
) -> EventIndex:
    """First pass over a JSONL file: the place and time of each valid event, and the lines
    out of time order; ``on_bad(line, reason)`` for lines that are not events (blank
    lines and ``#`` comments are skipped). Raises ``ReplayError`` for a line that is not UTF-8."""
    index = EventIndex()
    latest: tuple[int, int] | None = None  # the latest time so far, and its line
    offset = stream.tell()
    for number, raw in enumerate(iter(stream.readline, b""), start=1):
        start, offset = offset, offset + len(raw)
        stripped = _decoded(raw, f"{where}:{number}").strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            when = parse_line(stripped).event_time
        except ValueError as exc:
            on_bad(number, str(exc))
            continue
        micros = _micros(when)
        if latest is not None and micros < latest[0]:
            index.late += 1
            if len(index.named) < NAMED_LINES:
                index.named.append(
                    f"line {number} ({when.isoformat()}) is earlier than line {latest[1]}"
                )
        elif latest is None or micros > latest[0]:
            latest = (micros, number)
        index.offsets.append(start)
        index.times.append(micros)
    return index


def events_in_order(stream: BinaryIO, index: EventIndex) -> Iterator[tuple[int, Event]]:
    """Second pass: ``(seq, event)`` in event-time order, each line read again where it
    lies. ``seq`` counts from 1 in that order (the tables need it to grow)."""
    for seq, i in enumerate(index.order(), start=1):
        stream.seek(index.offsets[i])
        yield seq, parse_line(stream.readline().decode("utf-8").strip())


# --- the rule set --------------------------------------------------------------------------


def load_rules(rules_dir: Path, timezone: str = DEFAULT_CALENDAR.zone.key) -> RuleSet:
    """The rule set of ``rules_dir/*.rule`` and ``rules_dir/calendars``, built as the live
    worker builds its own (``streams.core.ruleload.load_rule_set``) with the deployment's
    business ``timezone``; refuses a rule set with errors (``ReplayError`` lists them)."""
    if not rules_dir.is_dir():
        raise ReplayError(f"{rules_dir}: not a directory of rule files")
    try:
        paths, calendars = sorted(rules_dir.glob("*.rule")), rules_dir / "calendars"
        rule_set = load_rule_set(paths, calendars, timezone)
    except EngineError as exc:
        raise ReplayError(str(exc), exit_code=1) from exc
    if rule_set.errors:
        shown = shown_errors(rule_set, paths, calendars)
        raise ReplayError(f"{rules_dir}: the rules have errors\n{shown}", exit_code=1)
    return rule_set


def load_engine(rules_dir: Path, timezone: str = DEFAULT_CALENDAR.zone.key) -> Engine:
    """An engine judging ``load_rules(rules_dir, timezone)``."""
    rule_set = load_rules(rules_dir, timezone)
    try:
        return rule_set.engine()
    except EngineError as exc:
        raise ReplayError(str(exc), exit_code=1) from exc


# --- running -------------------------------------------------------------------------------


@dataclass
class Replay:
    """What one rule set made of the events: counts always, the alerts themselves unless
    they were handed to ``run``'s ``on_alert`` as they came."""

    alerts: list[Alert] = field(default_factory=list)
    events: int = 0
    last_time: datetime | None = None
    end: datetime | None = None  # the clock at the end: the last event time or --until
    rule_ids: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # rule id -> failed evaluations
    fired: Counter[str] = field(default_factory=Counter)  # rule id -> alerts fired
    resolved: Counter[str] = field(default_factory=Counter)  # rule id -> alerts resolved

    @property
    def alert_count(self) -> int:
        return sum(self.fired.values()) + sum(self.resolved.values())


def run(
    engine: Engine,
    events: Iterable[tuple[int, Event]],
    until: datetime | None,
    on_alert: Callable[[Alert], None] | None = None,
) -> Replay:
    """Apply and judge every event in the order given (``seq`` must grow), then tick to
    the end. Alerts go to ``on_alert`` as they come when given (and are not kept), else
    into ``Replay.alerts``."""
    tables = empty_tables()
    result = Replay(rule_ids=list(engine.rules))

    def emit(alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            (result.fired if alert.status == "firing" else result.resolved)[alert.rule_id] += 1
            if on_alert is None:
                result.alerts.append(alert)
            else:
                on_alert(alert)

    for seq, event in events:
        if apply_event(tables, event, seq):  # a duplicate is not judged twice
            emit(engine.on_event(tables, event, seq))
        result.events += 1
        if result.last_time is None or event.event_time > result.last_time:
            result.last_time = event.event_time
    result.end = max((t for t in (result.last_time, until) if t is not None), default=None)
    if result.end is not None:
        emit(engine.on_tick(tables, result.end))
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
    for rule_id in {*replay.fired, *replay.resolved}:
        result[rule_id] = (replay.fired[rule_id], replay.resolved[rule_id])
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
    strict_order: bool = False  # refuse lines out of time order instead of sorting them


def parse_until(text: str, timezone: str) -> datetime:
    """``--until``: an ISO date-time; without an offset it is in the business ``timezone``
    (a bare date means its midnight)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReplayError(f"--until {text!r}: not a time like 2026-11-30T18:00") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(timezone))


def _index(options: ReplayOptions, stream: BinaryIO, err: TextIO) -> EventIndex:
    """The first pass, with bad lines and lines out of order reported on ``err`` (or,
    with ``strict_order``, out-of-order lines refused)."""
    path = options.events

    def bad(line: int, reason: str) -> None:
        err.write(f"{path}:{line}: skipped: {reason}\n")

    index = index_events(stream, bad, str(path))
    if index.late and options.strict_order:
        more = f"; and {index.late - len(index.named)} more" if index.late > NAMED_LINES else ""
        named = "; ".join(index.named) + more
        raise ReplayError(
            f"{path}: {index.late} line(s) out of event-time order: {named}", exit_code=1
        )
    if index.late:
        first = index.named[0]
        err.write(
            f"{path}: {index.late} line(s) earlier than a line before them moved into "
            f"event-time order (first: {first})\n"
        )
    return index


def main(options: ReplayOptions, out: TextIO, err: TextIO) -> int:
    """Run the command; returns the exit code. Raises ``ReplayError`` for unusable input."""
    # Both rule sets load before the events are read: a rule error is then the only thing
    # reported, not the last line after every skipped event and a whole first replay.
    engine = load_engine(options.rules_dir, options.timezone)
    compare = load_engine(options.compare, options.timezone) if options.compare else None
    try:
        with options.events.open("rb") as stream:
            index = _index(options, stream, err)
            if compare is not None:
                base = run(engine, events_in_order(stream, index), options.until)
                other = run(compare, events_in_order(stream, index), options.until)
                _print_difference(base, other, options.format, out, err)
            elif options.format == "jsonl":  # streamed: no alert is kept

                def write(alert: Alert) -> None:
                    out.write(alert_json(alert) + "\n")

                replay = run(engine, events_in_order(stream, index), options.until, write)
                # The summary goes to stderr so that stdout stays pure JSONL for jq and friends.
                err.write(_footer(replay) + summary_table(replay))
            else:
                replay = run(engine, events_in_order(stream, index), options.until)
                out.write(alerts_table(replay.alerts) + "\n" + _footer(replay))
                out.write(summary_table(replay))
    except OSError as exc:
        raise ReplayError(f"{options.events}: cannot read: {exc.strerror}") from exc
    return 0


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
    return f"{replay.events} events, clock at {end}, {replay.alert_count} alerts\n"
