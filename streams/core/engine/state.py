"""What the engine remembers, typed, and the one codec between it and the tables' JSON.

The engine keeps its memory in three changelog-backed tables (JSON values only), each
entry one of the dataclasses below. Nothing is stored that can be derived: a watch's
next deadline and the deadline an ``expect … where`` sees follow from its tiers and
period; an alert entry exists only while the alert fires, so it holds no status; a
schedule's open watches are the ``rule_timers`` entries of its periods.

* ``rule_timers``  ``Watch.table_key()`` -> ``Watch``: a deadline (or missed-schedule)
  watch waiting for its expected event;
* ``rule_alerts``  fingerprint -> ``FiringAlert``: an alert firing now;
* ``rule_clock``   ``"engine"`` -> ``EngineClock`` (the latest time judged) and
  ``"schedule:RULE"`` -> ``SchedulePeriod`` (the period a schedule rule is in). Other
  keys belong to other hooks (``streams.worker.rulehook``) and are never read here.

Compatibility with tables written before this module (the one-module engine up to commit
9d99d45): every old entry decodes. The old shapes are the new ones plus derived fields
(``event_id``, ``event_type``, ``expect_deadline`` and ``next`` of a watch; ``status`` of
an alert entry; ``open`` of a schedule period), which decoding ignores and the next
write drops. An old alert entry whose status is not ``firing`` is read as no entry (the
alert is not firing). An entry that does not decode at all (a shape no engine wrote,
JSON an operator edited) raises ``StateError`` from ``decode_*``; the ``read_*``
functions log it at ERROR and delete the entry, so a worker restarted on odd tables
resets that one entry and goes on instead of crashing on every event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from contract.events import Alert, Event, parse_event
from streams.core.state import Entry, Table, Tables
from streams.exceptions import StreamsError

log = logging.getLogger(__name__)

ENGINE_CLOCK = "engine"
_SCHEDULE = "schedule:"


class StateError(StreamsError):
    """A table entry that is not one of the engine's shapes."""


def key_text(key: Mapping[str, str]) -> str:
    """``"k1=v1|k2=v2"`` in the rule's key order."""
    return "|".join(f"{name}={value}" for name, value in key.items())


def watch_key(rule_id: str, key: Mapping[str, str]) -> str:
    """The ``rule_timers`` key of a deadline rule's watch: ``"RULE|k1=v1|k2=v2"``."""
    return f"{rule_id}|{key_text(key)}" if key else rule_id


def period_prefix(rule_id: str, key: Mapping[str, str]) -> str:
    """What the ``rule_timers`` keys of one key's missed schedule periods begin with."""
    return f"{watch_key(rule_id, key)}|@"


# --- the entries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Watch:
    """A deadline rule's (or a missed schedule period's) wait for an expected event.

    ``tiers`` are (name, deadline) in deadline order; ``fired`` the tiers fired so far, in
    the order they fired. ``start_event`` is the JSON of the event that started the watch
    (None for a schedule period), kept as JSON and parsed only when a tier fires: a watch is
    read for every expected event, and parsing an event costs more than the rest.
    ``period``: a schedule rule's watch belongs to the period with this deadline.
    """

    rule: str
    key: Mapping[str, str]
    start: datetime
    seq: int | None
    start_event: Mapping[str, Any] | None
    tiers: tuple[tuple[str, datetime], ...]
    fired: tuple[str, ...] = ()
    period: datetime | None = None

    def table_key(self) -> str:
        """Its key in ``rule_timers``: one region may owe the plans of several months, so a
        schedule watch's key names its period."""
        base = watch_key(self.rule, self.key)
        return f"{base}|@{self.period.isoformat()}" if self.period else base

    @property
    def event_id(self) -> str | None:
        """The id of the event that started the watch."""
        return None if self.start_event is None else str(self.start_event["event_id"])

    def parsed_start_event(self) -> Event | None:
        return None if self.start_event is None else parse_event(self.start_event)

    @property
    def expect_deadline(self) -> datetime:
        """The deadline ``expect … where`` sees: the period's, else the first tier's."""
        return self.period if self.period is not None else self.tiers[0][1]

    def pending(self) -> list[tuple[str, datetime]]:
        """The tiers not fired yet, in deadline order."""
        return [(name, at) for name, at in self.tiers if name not in self.fired]

    @property
    def next_deadline(self) -> datetime | None:
        pending = self.pending()
        return pending[0][1] if pending else None

    def tier_identity(self, tier: str) -> str:
        """The tier part of its alerts' identity. A schedule watch names its period: a region
        that misses November and December has two alerts, and December's plan resolves
        only December's."""
        return f"{tier}@{self.period.isoformat()}" if self.period else tier


@dataclass(frozen=True, slots=True)
class FiringAlert:
    """An alert firing now, as sent, and the sequence number of the event that fired it
    (None for a deadline): an event seen again at or below it was judged already."""

    alert: Alert
    seq: int | None


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    """The period a schedule rule is in: its deadline and the keys that delivered for it."""

    deadline: datetime
    satisfied: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EngineClock:
    """The latest time the engine has judged."""

    watermark: datetime


# --- the codec --------------------------------------------------------------------------------


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise StateError(f"{what} is {value!r}, not an ISO time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise StateError(f"{what}: {err}") from err
    if parsed.tzinfo is None:
        raise StateError(f"{what} {value!r} has no UTC offset")
    return parsed


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StateError(f"{what} is {value!r}, not an object")
    return value


def _seq(value: Any, what: str) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise StateError(f"{what} is {value!r}, not a sequence number")
    return value


def encode_watch(watch: Watch) -> Entry:
    entry: Entry = {
        "rule": watch.rule,
        "key": dict(watch.key),
        "start": watch.start.isoformat(),
        "seq": watch.seq,
        "event": None if watch.start_event is None else dict(watch.start_event),
        "tiers": {name: at.isoformat() for name, at in watch.tiers},
        "fired": list(watch.fired),
    }
    if watch.period is not None:
        entry["schedule_deadline"] = watch.period.isoformat()
    return entry


def decode_watch(entry: Mapping[str, Any]) -> Watch:
    """A ``rule_timers`` value as a ``Watch`` (old entries' derived fields ignored)."""
    try:
        key = _mapping(entry.get("key"), "key")
        event = entry.get("event")
        if event is not None and not isinstance(_mapping(event, "event").get("event_id"), str):
            raise StateError("the start event has no event_id")
        tiers = [
            (str(name), _time(at, f"tier {name}"))
            for name, at in _mapping(entry.get("tiers"), "tiers").items()
        ]
        period = entry.get("schedule_deadline")
        return Watch(
            rule=str(entry["rule"]),
            key={str(k): str(v) for k, v in key.items()},
            start=_time(entry.get("start"), "start"),
            seq=_seq(entry.get("seq"), "seq"),
            start_event=event,
            tiers=tuple(sorted(tiers, key=lambda item: item[1])),
            fired=tuple(str(name) for name in entry.get("fired", ())),
            period=None if period is None else _time(period, "schedule_deadline"),
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise StateError(f"not a watch: {err!r}") from err


def encode_alert(firing: FiringAlert) -> Entry:
    return {"seq": firing.seq, "alert": firing.alert.model_dump(mode="json")}


def decode_alert(entry: Mapping[str, Any]) -> FiringAlert | None:
    """A ``rule_alerts`` value; None for an old entry that remembered a resolved alert."""
    if entry.get("status", "firing") != "firing":
        return None
    try:
        alert = Alert.model_validate(entry.get("alert"))
    except ValidationError as err:
        raise StateError(f"not an alert: {err.error_count()} problem(s)") from err
    return FiringAlert(alert=alert, seq=_seq(entry.get("seq"), "seq"))


def encode_period(period: SchedulePeriod) -> Entry:
    return {"deadline": period.deadline.isoformat(), "satisfied": sorted(period.satisfied)}


def decode_period(entry: Mapping[str, Any]) -> SchedulePeriod:
    """A schedule rule's ``rule_clock`` value (an old entry's ``open`` map is ignored)."""
    satisfied = entry.get("satisfied", [])
    if not isinstance(satisfied, list):
        raise StateError(f"satisfied is {satisfied!r}, not a list")
    deadline = _time(entry.get("deadline"), "deadline")
    return SchedulePeriod(deadline=deadline, satisfied=frozenset(map(str, satisfied)))


def decode_clock(entry: Mapping[str, Any]) -> EngineClock:
    return EngineClock(watermark=_time(entry.get("watermark"), "watermark"))


# --- reading and writing the tables -----------------------------------------------------------


def _dropped(table: MutableMapping[str, Any], key: str, err: StateError) -> None:
    log.error("engine state %r does not decode (%s): entry dropped", key, err)
    del table[key]


def read_watch(tables: Tables, wkey: str) -> Watch | None:
    entry = tables["rule_timers"].get(wkey)
    if entry is None:
        return None
    try:
        return decode_watch(entry)
    except StateError as err:
        _dropped(tables["rule_timers"], wkey, err)
        return None


def write_watch(tables: Tables, watch: Watch) -> str:
    """Store ``watch``; returns its key. A new dict each time: Faust sees assignments only."""
    wkey = watch.table_key()
    tables["rule_timers"][wkey] = encode_watch(watch)
    return wkey


def all_watches(timers: Table) -> list[tuple[str, Watch]]:
    """Every watch that decodes (the others are dropped), in table order."""
    found: list[tuple[str, Watch]] = []
    bad: list[tuple[str, StateError]] = []
    for wkey, entry in list(timers.items()):
        try:
            found.append((wkey, decode_watch(entry)))
        except StateError as err:
            bad.append((wkey, err))
    for wkey, problem in bad:
        _dropped(timers, wkey, problem)
    return found


def read_alert(tables: Tables, fp: str) -> FiringAlert | None:
    entry = tables["rule_alerts"].get(fp)
    if entry is None:
        return None
    try:
        return decode_alert(entry)
    except StateError as err:
        _dropped(tables["rule_alerts"], fp, err)
        return None


def all_alerts(alerts: Table) -> list[tuple[str, FiringAlert]]:
    """Every firing alert that decodes (the others are dropped), in table order."""
    found: list[tuple[str, FiringAlert]] = []
    bad: list[tuple[str, StateError]] = []
    for fp, entry in list(alerts.items()):
        try:
            firing = decode_alert(entry)
        except StateError as err:
            bad.append((fp, err))
            continue
        if firing is not None:
            found.append((fp, firing))
    for fp, problem in bad:
        _dropped(alerts, fp, problem)
    return found


def write_alert(tables: Tables, firing: FiringAlert) -> None:
    tables["rule_alerts"][firing.alert.fingerprint] = encode_alert(firing)


def read_period(tables: Tables, rule_id: str) -> SchedulePeriod | None:
    clock_key = _SCHEDULE + rule_id
    entry = tables["rule_clock"].get(clock_key)
    if entry is None:
        return None
    try:
        return decode_period(entry)
    except StateError as err:
        _dropped(tables["rule_clock"], clock_key, err)
        return None


def write_period(tables: Tables, rule_id: str, period: SchedulePeriod) -> None:
    tables["rule_clock"][_SCHEDULE + rule_id] = encode_period(period)


def read_watermark(tables: Tables) -> datetime | None:
    """The latest time an engine judged on these tables, if any."""
    entry = tables["rule_clock"].get(ENGINE_CLOCK)
    if entry is None:
        return None
    try:
        return decode_clock(entry).watermark
    except StateError as err:
        _dropped(tables["rule_clock"], ENGINE_CLOCK, err)
        return None


def write_watermark(tables: Tables, clock: EngineClock) -> None:
    tables["rule_clock"][ENGINE_CLOCK] = {"watermark": clock.watermark.isoformat()}
