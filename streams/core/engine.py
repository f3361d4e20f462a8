"""The rule engine: compiled rules judged against events and the passing of time.

Pure: no Faust, Kafka, clock or environment. Time comes in as the event's time
(``on_event``) or as the caller's clock (``on_tick``). All memory lives in three tables so
the live worker keeps it in changelog-backed Faust tables (JSON values only):

* ``rule_alerts``  fingerprint -> ``{"status": "firing", "seq", "alert"}`` for each alert
  firing now: the sequence number that fired it and the alert itself, so a later
  ``resolved`` repeats what fired. The entry goes when the alert resolves, so the table
  follows what is firing, not the history (the worker's commit journal, not this table,
  keeps an event from being judged twice: ``streams.worker.judging``);
* ``rule_timers``  ``"RULE|k1=v1|k2=v2"`` -> a deadline watch (see ``_new_watch``); a
  schedule rule's watch key ends with ``|@<deadline>`` because one region may owe the
  plans of several months;
* ``rule_clock``   ``"engine"`` -> ``{"watermark"}`` (the latest time judged),
  ``"schedule:RULE"`` -> the rule's current period (see ``_schedule_state``).

An event rule is decided by its compiled closures (``CompiledRule.decide``: `where`, the
lets, `when`); ``Engine.verdict`` turns that into fire, resolve or nothing.

Alert ``values`` are JSON-safe and meant for people and for dashboards alike: the rule's
lets, the trigger event's numbers as ``event.FIELD``, and ``start``/``deadline`` for
deadline rules. Decimals (money, percent) are exact decimal strings (``"300"``,
``"0.3"``); durations are texts in the rule language's own units (``"8d 2h 30min"``);
times and dates are ISO-8601; sets are sorted lists.

Deadlines are inclusive: an expected event exactly at a deadline is in time, and a
deadline fires once the clock is past it, with ``at`` = the deadline itself (whenever the
clock notices it). A late expected event first fires the overdue tier, then resolves it.

A missing value only makes a rule's condition false (docs/rules.md, "Missing values").
A rule whose own expression fails on the data (``dsl.builtins.EvaluationFailed``: a
calendar out of range, a value the alert needs that is missing, an event without the
rule's key) does not fire for that evaluation; the failure is counted per rule in
``Engine.errors``, logged at WARNING (the 1st, 10th, 100th … time, with the count), and
the other rules go on. Nothing else is caught: an exception out of the engine's own code
is a bug and propagates, never mistaken for rule data.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from contract.events import EVENT_TYPES, Alert, Event, Penalty, parse_event
from dsl.builtins import EvaluationFailed
from dsl.calendar import DEFAULT_CALENDAR, Calendar, CalendarError
from dsl.compiled import CompiledRule, Decision, Outcome, Tier
from streams.core.state import StateView, Table, Tables
from streams.exceptions import StreamsError

log = logging.getLogger(__name__)


class EngineError(StreamsError, ValueError):
    """A rule set the engine cannot run (unknown calendar, rule without an outcome)."""


_Step = Callable[["_Rule", Tables, "RuleEnv", Event, Mapping[str, Any] | None, int], list[Alert]]

ENGINE_CLOCK = "engine"
SCHEDULE_TIER = "deadline"  # tier name of a schedule rule written without `tier` blocks
_CENT = Decimal("0.01")
# A clock that jumps further than this many schedule periods at once is re-anchored
# instead of replaying every missed month.
_MAX_PERIODS_PER_ADVANCE = 120


# --- identities and JSON values ----------------------------------------------------------


def key_text(key: Mapping[str, str]) -> str:
    """``"k1=v1|k2=v2"`` in the rule's key order."""
    return "|".join(f"{name}={value}" for name, value in key.items())


def watch_key(rule_id: str, key: Mapping[str, str]) -> str:
    """The ``rule_timers`` key of a deadline rule's watch: ``"RULE|k1=v1|k2=v2"``."""
    return f"{rule_id}|{key_text(key)}" if key else rule_id


def tier_identity(watch: Mapping[str, Any], tier: str) -> str:
    """The tier part of a watch's alert identity. A schedule rule's watch belongs to one
    period, so its identity names the period's deadline: a region that misses November and
    December has two alerts, and December's plan resolves only December's."""
    period = watch.get("schedule_deadline")
    return f"{tier}@{period}" if period else tier


def fingerprint(rule_id: str, tier: str, key: Mapping[str, str]) -> str:
    """Stable alert identity: sha256 of rule id, tier name and key, first 16 hex digits.

    Event rules have the tier name ``""``.
    """
    # ``key_text`` written out: this runs for every event rule that fires or resolves.
    text = f"{rule_id}\n{tier}\n" + "|".join([f"{name}={value}" for name, value in key.items()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def duration_text(span: timedelta) -> str:
    """A duration in the rule language's units: ``"8d 2h 30min"``, ``"45s"``, ``"0min"``."""
    if span < timedelta(0):
        return "-" + duration_text(-span)
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if seconds or not parts:
        parts.append(f"{seconds}s" if seconds else "0min")
    return " ".join(parts)


def decimal_text(value: Decimal) -> str:
    """An exact decimal without exponent or trailing zeros: ``"300"``, ``"0.3"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def json_value(value: Any) -> Any:
    """``value`` as JSON-safe data (see the module docstring for the choices)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, set | frozenset):
        return sorted(json_value(v) for v in value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _iso(t: datetime) -> str:
    return t.isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- the environment a compiled expression reads ----------------------------------------


class RuleEnv:
    """One evaluation's view of the world (implements ``dsl.compiled.Env``).

    Built by ``rule_env`` once per event and shared by every rule the event concerns;
    ``_bind`` fits it to each rule: key, calendar, ``start`` / ``deadline``, fresh lets.
    No ``__init__`` on purpose: calling a Python ``__init__`` costs more than the
    attribute stores, and this is built for every event.
    """

    __slots__ = ("calendar", "deadline", "event", "key", "lets", "now", "order", "start", "view")

    event: Any
    order: Mapping[str, Any] | None
    view: Any
    key: Mapping[str, str]
    now: datetime
    calendar: Any
    start: datetime | None
    deadline: datetime | None
    lets: dict[str, Any]


def rule_env(
    event: Event | None,
    order: Mapping[str, Any] | None,
    view: StateView,
    now: datetime,
    calendar: Calendar = DEFAULT_CALENDAR,
) -> RuleEnv:
    """An environment not bound to a rule yet (see ``_bind``): no key, start, deadline or
    lets. ``on_event`` builds one per event; written out flat because of that."""
    env = RuleEnv()
    env.event = event
    env.order = order
    env.view = view
    env.now = now
    env.calendar = calendar
    env.key = _NO_KEY
    env.start = None
    env.deadline = None
    env.lets = {}
    return env


def _bind(
    env: RuleEnv,
    prepared: _Rule,
    key: Mapping[str, str],
    start: datetime | None = None,
    deadline: datetime | None = None,
) -> RuleEnv:
    """Fit the shared event environment to one rule: nothing of the previous rule stays."""
    env.key, env.calendar, env.start, env.deadline = key, prepared.calendar, start, deadline
    env.lets = {}
    return env


_NO_KEY: Mapping[str, str] = MappingProxyType({})


KeyOf = Callable[[Event, Mapping[str, Any] | None], dict[str, str]]


@dataclass(frozen=True)
class _Rule:
    """A compiled rule with what the engine derives from it once."""

    rule: CompiledRule
    calendar: Calendar
    tiers: tuple[Tier, ...]
    key_of: KeyOf  # the business key of a trigger event (see ``_key_function``)
    let_names: tuple[str, ...] = ()  # event rules: the names of ``CompiledRule.decide``'s values


def order_of(tables: Tables, event: Event | None) -> Mapping[str, Any] | None:
    """The order record of ``event``'s order id (None for events without one)."""
    order_id = getattr(event, "order_id", None)
    return tables["orders"].get(order_id) if isinstance(order_id, str) else None


def _key_from(
    fields: tuple[str, ...], event: Event, order: Mapping[str, Any] | None
) -> dict[str, str]:
    """The business key of ``event``; a name the event lacks comes from the order record."""
    key: dict[str, str] = {}
    for name in fields:
        value = getattr(event, name, None)
        if value is None and order is not None:
            value = order.get(name)
        if not isinstance(value, str):
            raise EvaluationFailed(f"{event.type} has no key field {name!r}")
        key[name] = value
    return key


def _key_is_sure(rule: CompiledRule) -> bool:
    """Whether every trigger type has every key field as a required text (validated by
    pydantic, so never None): then the key is read straight from the event, never fails."""
    models = [EVENT_TYPES.get(t) for t in rule.triggers]
    return rule.kind == "event" and all(
        model is not None
        and all(
            (info := model.model_fields.get(name)) is not None
            and info.annotation is str
            and info.is_required()
            for name in rule.key_fields
        )
        for model in models
    )


def _key_function(rule: CompiledRule) -> KeyOf:
    """``_key_from`` for the rule's trigger events, built once: read straight from the
    event when the key is sure (``_key_is_sure``); otherwise each name may fall back to
    the order."""
    fields = rule.key_fields
    if not _key_is_sure(rule) or len(fields) > 3:
        return lambda event, order: _key_from(fields, event, order)
    if len(fields) == 3:
        first, second, third = fields
        return lambda event, order: {
            first: getattr(event, first),
            second: getattr(event, second),
            third: getattr(event, third),
        }
    if len(fields) == 2:
        first, second = fields
        return lambda event, order: {first: getattr(event, first), second: getattr(event, second)}
    if len(fields) == 1:
        (first,) = fields
        return lambda event, order: {first: getattr(event, first)}
    return lambda event, order: {}


def _event_numbers(event: Event | None) -> dict[str, Any]:
    """The trigger's numbers (quantities, amounts) for an alert's values."""
    if event is None:
        return {}
    numbers: dict[str, Any] = {}
    for name, value in event:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            numbers[f"event.{name}"] = json_value(value)
    return numbers


def _first_by_name(rules: Iterable[_Rule], types: str) -> dict[str, list[_Rule]]:
    index: dict[str, list[_Rule]] = {}
    for prepared in rules:
        rule = prepared.rule
        names = {"triggers": rule.triggers, "expect": rule.expect, "cancel_on": rule.cancel_on}
        for type_name in sorted(names[types]):
            index.setdefault(type_name, []).append(prepared)
    return index


# --- the engine ---------------------------------------------------------------------------


class Engine:
    """Runs a compiled rule set: ``on_event`` for each event, ``on_tick`` as time passes.

    ``default_calendar`` serves the rules that name no calendar: a ``Calendar``, the name
    of one in ``calendars``, or None for ``dsl.calendar.DEFAULT_CALENDAR``.

    Rules are indexed once by trigger, expected and cancelling event type. ``seq`` must
    grow with every event of the stream (the worker passes the events topic's offset): an
    event seen again with a sequence number that was already judged changes nothing.
    """

    def __init__(
        self,
        rules: Sequence[CompiledRule],
        calendars: Mapping[str, Calendar],
        default_calendar: Calendar | str | None = None,
        *,
        timers_follow_events: bool = True,
        rule_set: str | None = None,
    ) -> None:
        """``timers_follow_events``: an event first fires the deadlines before its own time.
        Right for one ordered stream (replay, ``rules test``); the live worker merges several
        topics whose events are not in time order across topics, so it passes False and
        fires deadlines only from ``on_tick`` with its watermark (``streams.worker.clock``).
        ``rule_set``: the rule files' version (``streams.core.ruleset.version``) each alert
        names."""
        self._timers_follow_events = timers_follow_events
        self.rule_set = rule_set
        default = _default_calendar(calendars, default_calendar)
        prepared = [_prepare(rule, calendars, default) for rule in rules]
        ids = Counter(p.rule.id for p in prepared)
        duplicates = sorted(rule_id for rule_id, n in ids.items() if n > 1)
        if duplicates:
            raise EngineError(f"duplicate rule ids: {', '.join(duplicates)}")
        self.rules: dict[str, _Rule] = {p.rule.id: p for p in prepared}
        self._on = _first_by_name((p for p in prepared if p.rule.kind == "event"), "triggers")
        self._after = _first_by_name((p for p in prepared if p.rule.kind == "deadline"), "triggers")
        self._expect = _first_by_name((p for p in prepared if p.rule.kind != "event"), "expect")
        self._cancel = _first_by_name((p for p in prepared if p.rule.kind != "event"), "cancel_on")
        self._schedules = [p for p in prepared if p.rule.kind == "schedule"]
        self._heap: list[tuple[datetime, str]] = []
        self._heap_table: Table | None = None
        # rule id -> evaluations that failed on the rule's own expression (never reset)
        self.errors: Counter[str] = Counter()

    # --- entry points ---------------------------------------------------------------

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        """Alerts caused by ``event`` (already applied to ``tables``), at the event's time.

        Deadlines before the event's time fire first, then the event is judged: expected
        events end watches, cancelling events end them silently, triggers start them, and
        event rules fire or resolve.
        """
        now = event.event_time
        alerts = self._advance(tables, now) if self._timers_follow_events else []
        order = order_of(tables, event)
        # One environment for the event, shared by its rules (each step binds it to its rule).
        env = rule_env(event, order, StateView(tables), now)
        for prepared in self._expect.get(event.type, ()):
            alerts += self._guarded(prepared, self._expected, tables, env, event, order, seq)
        for prepared in self._cancel.get(event.type, ()):
            alerts += self._guarded(prepared, self._cancelled, tables, env, event, order, seq)
        for prepared in self._after.get(event.type, ()):
            alerts += self._guarded(prepared, self._trigger, tables, env, event, order, seq)
        for prepared in self._on.get(event.type, ()):
            alerts += self._guarded(prepared, self._judge, tables, env, event, order, seq)
        if self._timers_follow_events:
            # A watch that started already overdue (a `by` deadline in the past) fires now.
            alerts += self._advance(tables, now)
            self._note_watermark(tables, now)
        return alerts

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        """Alerts of deadlines and schedules that ``now`` (aware) is past."""
        if now.tzinfo is None:
            raise EngineError(f"on_tick needs an aware time, got {now.isoformat()}")
        alerts = self._advance(tables, now)
        self._note_watermark(tables, now)
        return alerts

    def watermark(self, tables: Tables) -> datetime | None:
        """The latest time the engine has judged (from ``rule_clock``), if any."""
        return stored_watermark(tables)

    # --- error isolation --------------------------------------------------------------

    def _guarded(
        self,
        prepared: _Rule,
        step: _Step,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        """``step`` for one rule; a failure of the rule's own expression stays with it."""
        try:
            result = step(prepared, tables, env, event, order, seq)
        except EvaluationFailed as exc:
            self._failed(prepared, exc)
            return []
        return result

    def _failed(self, prepared: _Rule, exc: EvaluationFailed) -> None:
        rule_id = prepared.rule.id
        self.errors[rule_id] += 1
        count = self.errors[rule_id]
        # Every failure is counted; a warning at the 1st, 10th, 100th … keeps a rule that
        # fails on every order visible without drowning the log.
        level = logging.WARNING if _is_power_of_ten(count) else logging.DEBUG
        log.log(
            level,
            "rule %s (%s) not evaluated (%d time(s) so far): %s",
            rule_id,
            prepared.rule.source,
            count,
            exc,
        )

    # --- event rules ------------------------------------------------------------------

    def _judge(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        found = self.verdict(prepared, tables, env, event, order, seq)
        return [] if found is None else [self._act(prepared, tables, env, event, seq, found)]

    def verdict(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> Verdict | None:
        """What an event rule makes of ``event``, without changing anything: None when
        nothing happens (`where` false, a redelivery, `when` false with nothing firing),
        else fire (the lets' values) or resolve the alert of the event's key."""
        key = prepared.key_of(event, order)
        redelivered, fp, last = _redelivered(tables, prepared, key, seq)
        if redelivered:
            return None  # this event was judged already
        result: Decision = prepared.rule.decide(_bind(env, prepared, key))
        if result is None:
            return None  # `where` is false
        if result is False and (last is None or last.get("status") != "firing"):
            return None  # nothing firing for this key: nothing to resolve
        return Verdict(None if result is False else result, key, fp, last)  # fire / resolve

    def _act(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        seq: int,
        found: Verdict,
    ) -> Alert:
        """Fire (with the lets' values) or resolve, and remember it."""
        if found.values is None:
            assert found.last is not None  # only a firing alert resolves
            # Gone, not marked resolved: the table follows what fires, not the history.
            del tables["rule_alerts"][found.fp]
            return _resolved(found.last, event.event_time, [event.event_id])
        _bind(env, prepared, found.key)
        env.lets = dict(zip(prepared.let_names, found.values, strict=True))
        alert = _alert(
            prepared,
            "",
            _outcome(prepared.rule),
            env,
            event.event_time,
            [event.event_id],
            self.rule_set,
        )
        _remember_firing(tables, alert, seq)
        return alert

    # --- deadline rules ---------------------------------------------------------------

    def _trigger(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        rule = prepared.rule
        key = prepared.key_of(event, order)
        wkey = watch_key(rule.id, key)
        old = tables["rule_timers"].get(wkey)
        if old is not None and (old.get("event_id") == event.event_id or old["seq"] >= seq):
            return []  # the same start event again: keep the watch and its fired tiers
        _bind(env, prepared, key, start=event.event_time)
        if rule.where is not None and not rule.where(env):
            return []
        deadlines = _tier_deadlines(prepared, env, event.event_time)
        alerts = self._end_watch(tables, wkey, event) if old is not None else []
        watch = _new_watch(rule.id, key, event.event_time, deadlines, event, seq)
        self._store_watch(tables, wkey, watch)
        return alerts

    def _expected(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        if prepared.rule.kind == "schedule":
            return self._schedule_expected(prepared, tables, env, event, order)
        key = prepared.key_of(event, order)
        wkey = watch_key(prepared.rule.id, key)
        watch = tables["rule_timers"].get(wkey)
        if watch is None or (watch["seq"] is not None and watch["seq"] >= seq):
            return []  # nothing to end, or the watch started after this event
        if not self._satisfies(prepared, watch, env, key):
            return []
        return self._end_watch(tables, wkey, event)

    def _cancelled(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        key = prepared.key_of(event, order)
        if prepared.rule.kind == "schedule":
            wkeys = _schedule_state(tables, prepared).get("open", {}).get(key_text(key), [])
        else:
            wkeys = [watch_key(prepared.rule.id, key)]
        alerts: list[Alert] = []
        for wkey in wkeys:
            watch = tables["rule_timers"].get(wkey)
            if watch is not None and (watch["seq"] is None or watch["seq"] < seq):
                alerts += self._end_watch(tables, wkey, event)
        return alerts

    def _satisfies(
        self,
        prepared: _Rule,
        watch: Mapping[str, Any],
        env: RuleEnv,
        key: Mapping[str, str],
    ) -> bool:
        """``expect … where`` with ``event`` = the candidate and the watch's deadline."""
        where = prepared.rule.expect_where
        if where is None:
            return True
        start, deadline = _time(watch["start"]), _time(watch["expect_deadline"])
        return bool(where(_bind(env, prepared, key, start, deadline)))

    def _end_watch(self, tables: Tables, wkey: str, event: Event) -> list[Alert]:
        """Remove a watch; each tier it had fired is resolved by ``event``.

        A step that comes after a deadline the clock had not yet passed (the live worker
        fires deadlines on its next tick) is late all the same: the tiers it missed fire
        first, at their deadlines, and are resolved with the rest.
        """
        timers = tables["rule_timers"]
        watch = timers.get(wkey)
        if watch is None:
            return []
        alerts = self._fire_due_tiers(tables, wkey, watch, event.event_time)
        watch = timers.get(wkey)
        if watch is None:
            return alerts  # its rule left the rule set
        del timers[wkey]
        if watch.get("schedule_deadline"):
            _forget_open(tables, self.rules[watch["rule"]], watch, wkey)
        by = [i for i in (watch.get("event_id"), event.event_id) if i]
        for tier in watch["fired"]:
            fp = fingerprint(watch["rule"], tier_identity(watch, tier), watch["key"])
            last = tables["rule_alerts"].get(fp)
            if last is not None and last["status"] == "firing":
                alerts.append(_resolved(last, event.event_time, by))
                # The watch is gone, so nothing can resolve this fingerprint twice.
                del tables["rule_alerts"][fp]
        return alerts

    # --- time passing -----------------------------------------------------------------

    def _advance(self, tables: Tables, now: datetime) -> list[Alert]:
        """Fire every schedule period and watch tier that ``now`` is past, in time order."""
        alerts: list[Alert] = []
        for prepared in self._schedules:
            self._advance_schedule(tables, prepared, now)
        timers = tables["rule_timers"]
        self._ensure_index(timers)
        while self._heap and self._heap[0][0] < now:
            due, wkey = heapq.heappop(self._heap)
            watch = timers.get(wkey)
            if watch is None or watch.get("next") is None or _time(watch["next"]) != due:
                continue  # ended or rescheduled since it was indexed
            alerts += self._fire_due_tiers(tables, wkey, watch, now)
        alerts.sort(key=lambda a: a.at)
        return alerts

    def _fire_due_tiers(
        self, tables: Tables, wkey: str, watch: dict[str, Any], now: datetime
    ) -> list[Alert]:
        prepared = self.rules.get(watch["rule"])
        if prepared is None:
            # The rule left the rule set (a reload) after the watch began: drop the watch.
            del tables["rule_timers"][wkey]
            return []
        fired = list(watch["fired"])
        alerts: list[Alert] = []
        for tier_name, deadline in _pending(watch):
            if deadline >= now:
                break
            fired.append(tier_name)
            alert = self._fire_tier(tables, prepared, watch, tier_name, deadline)
            if alert is not None:
                alerts.append(alert)
        updated = {**watch, "fired": fired}
        updated["next"] = _next_deadline(updated)
        self._store_watch(tables, wkey, updated)
        return alerts

    def _fire_tier(
        self,
        tables: Tables,
        prepared: _Rule,
        watch: Mapping[str, Any],
        tier_name: str,
        deadline: datetime,
    ) -> Alert | None:
        tier = next((t for t in prepared.tiers if t.name == tier_name), None)
        if tier is None:
            return None  # the rule was edited and lost this tier
        start_event = parse_event(watch["event"]) if watch.get("event") else None
        order = order_of(tables, start_event)
        env = rule_env(start_event, order, StateView(tables), deadline, prepared.calendar)
        _bind(env, prepared, dict(watch["key"]), _time(watch["start"]), deadline)
        by = [watch["event_id"]] if watch.get("event_id") else []
        identity = tier_identity(watch, tier.name)
        try:
            _evaluate_lets(tier.outcome, env)
            alert = _alert(prepared, identity, tier.outcome, env, deadline, by, self.rule_set)
        except EvaluationFailed as exc:
            self._failed(prepared, exc)
            return None
        _remember_firing(tables, alert, None)
        return alert

    # --- schedule rules ---------------------------------------------------------------

    def _advance_schedule(self, tables: Tables, prepared: _Rule, now: datetime) -> None:
        entry = tables["rule_clock"].get(_schedule_clock_key(prepared))
        if entry is not None and _time(entry["deadline"]) >= now:
            # Nothing due: this runs for every event, and each write of a Faust table is
            # a changelog record, so the unchanged period is not written back.
            return
        state = _schedule_state(tables, prepared, now)
        deadline = _time(state["deadline"])
        rule_id = prepared.rule.id
        periods = 0
        while deadline < now:
            periods += 1
            if periods > _MAX_PERIODS_PER_ADVANCE:
                log.warning("rule %s: clock jumped to %s; schedule re-anchored", rule_id, now)
                deadline = _next_schedule_deadline(prepared, now)
                state = {**state, "satisfied": []}
                break
            state = self._close_period(tables, prepared, state, deadline)
            deadline = _next_schedule_deadline(prepared, deadline)
            state = {**state, "deadline": _iso(deadline), "satisfied": []}
        _store_schedule_state(tables, prepared, {**state, "deadline": _iso(deadline)})

    def _close_period(
        self, tables: Tables, prepared: _Rule, state: dict[str, Any], deadline: datetime
    ) -> dict[str, Any]:
        """Open a watch for every region/model that did not deliver by ``deadline``."""
        schedule = prepared.rule.schedule
        assert schedule is not None  # only schedule rules get here
        known = "region_stock" if schedule.for_each == "region" else "stock"
        satisfied = set(state.get("satisfied", []))
        open_watches: dict[str, list[str]] = {k: list(v) for k, v in state["open"].items()}
        start = _previous_schedule_deadline(prepared, deadline)
        for name in sorted(tables[known].keys()):
            key: dict[str, str] = {schedule.for_each: name}
            if key_text(key) in satisfied:
                continue
            wkey = f"{watch_key(prepared.rule.id, key)}|@{_iso(deadline)}"
            env = rule_env(None, None, StateView(tables), deadline, prepared.calendar)
            _bind(env, prepared, key, start, deadline)
            try:
                deadlines = _tier_deadlines(prepared, env, deadline)
            except EvaluationFailed as exc:
                self._failed(prepared, exc)
                continue
            watch = _new_watch(prepared.rule.id, key, start, deadlines, None, None)
            watch["schedule_deadline"] = watch["expect_deadline"] = _iso(deadline)
            self._store_watch(tables, wkey, watch)
            open_watches.setdefault(key_text(key), []).append(wkey)
        return {**state, "open": open_watches}

    def _schedule_expected(
        self,
        prepared: _Rule,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
    ) -> list[Alert]:
        """A delivery counts for the current period, and resolves missed earlier ones."""
        schedule = prepared.rule.schedule
        assert schedule is not None  # only schedule rules get here
        value = getattr(event, schedule.for_each, None)
        if not isinstance(value, str):
            raise EvaluationFailed(f"{event.type} has no {schedule.for_each}")
        key: dict[str, str] = {schedule.for_each: value}
        state = _schedule_state(tables, prepared, event.event_time)
        alerts: list[Alert] = []
        for wkey in list(state.get("open", {}).get(key_text(key), [])):
            watch = tables["rule_timers"].get(wkey)
            if watch is not None and self._satisfies(prepared, watch, env, key):
                alerts += self._end_watch(tables, wkey, event)
        current = {
            "start": _iso(_previous_schedule_deadline(prepared, _time(state["deadline"]))),
            "expect_deadline": state["deadline"],
        }
        if self._satisfies(prepared, current, env, key):
            state = _schedule_state(tables, prepared, event.event_time)
            satisfied = sorted({*state.get("satisfied", []), key_text(key)})
            _store_schedule_state(tables, prepared, {**state, "satisfied": satisfied})
        return alerts

    # --- the timer index --------------------------------------------------------------

    def _ensure_index(self, timers: Table) -> None:
        """(Re)build the in-memory deadline heap when handed a different timer table."""
        if self._heap_table is timers:
            return
        self._heap_table = timers
        self._heap = [(_time(w["next"]), k) for k, w in timers.items() if w.get("next")]
        heapq.heapify(self._heap)

    def _store_watch(self, tables: Tables, wkey: str, watch: dict[str, Any]) -> None:
        timers = tables["rule_timers"]
        self._ensure_index(timers)
        timers[wkey] = watch
        if watch.get("next"):
            heapq.heappush(self._heap, (_time(watch["next"]), wkey))

    def _note_watermark(self, tables: Tables, now: datetime) -> None:
        current = self.watermark(tables)
        if current is None or now > current:
            tables["rule_clock"][ENGINE_CLOCK] = {"watermark": _iso(now)}


def stored_watermark(tables: Tables) -> datetime | None:
    """The latest time an engine judged on these tables (``rule_clock``), if any."""
    entry = tables["rule_clock"].get(ENGINE_CLOCK)
    return _time(entry["watermark"]) if entry else None


# --- construction helpers ------------------------------------------------------------------


def _default_calendar(
    calendars: Mapping[str, Calendar], default: Calendar | str | None
) -> Calendar:
    """The calendar of rules that name none: given, named among ``calendars``, or built in."""
    if isinstance(default, Calendar):
        return default
    if default is None:
        return DEFAULT_CALENDAR
    if default not in calendars:
        known = ", ".join(sorted(calendars)) or "none"
        raise EngineError(f"unknown default calendar {default!r} (known: {known})")
    return calendars[default]


def _prepare(rule: CompiledRule, calendars: Mapping[str, Calendar], default: Calendar) -> _Rule:
    if rule.calendar is None:
        calendar = default
    elif rule.calendar in calendars:
        calendar = calendars[rule.calendar]
    else:
        known = ", ".join(sorted(calendars)) or "none"
        raise EngineError(
            f"{rule.source}: rule {rule.id} names unknown calendar "
            f"{rule.calendar!r} (known: {known})"
        )
    tiers = rule.tiers
    if rule.kind == "event" and rule.outcome is None:
        raise EngineError(f"{rule.source}: event rule {rule.id} has no outcome")
    if rule.kind != "event" and not tiers:
        if rule.outcome is None:
            raise EngineError(f"{rule.source}: rule {rule.id} has neither tiers nor an outcome")
        # A schedule rule without `tier` blocks fires once, at the schedule's deadline.
        tiers = (Tier(name=SCHEDULE_TIER, after=None, by=None, outcome=rule.outcome),)
    if rule.kind == "schedule" and rule.schedule is None:
        raise EngineError(f"{rule.source}: schedule rule {rule.id} has no schedule")
    if rule.kind == "deadline" and any(t.after is None and t.by is None for t in tiers):
        raise EngineError(f"{rule.source}: deadline rule {rule.id} has a tier without a time")
    if rule.kind != "event":
        return _Rule(rule, calendar, tiers, _key_function(rule))
    let_names = tuple(name for name, _ in _outcome(rule).lets)
    return _Rule(rule, calendar, tiers, _key_function(rule), let_names)


def _is_power_of_ten(n: int) -> bool:
    while n % 10 == 0:
        n //= 10
    return n == 1


def _outcome(rule: CompiledRule) -> Outcome:
    if rule.outcome is None:
        raise EngineError(f"{rule.source}: event rule {rule.id} has no outcome")
    return rule.outcome


# --- evaluation helpers --------------------------------------------------------------------


def _evaluate_lets(outcome: Outcome, env: RuleEnv) -> None:
    for name, expr in outcome.lets:
        env.lets[name] = expr(env)


def _penalty(outcome: Outcome, env: RuleEnv) -> Penalty | None:
    if outcome.penalty is None:
        return None
    amount = outcome.penalty.amount(env)
    who = outcome.penalty.who(env)
    if amount is None or who is None:
        raise EvaluationFailed("the penalty's amount or person is missing")
    try:
        cents = Decimal(amount).quantize(_CENT)
    except ArithmeticError as err:  # an amount too large for its cents
        raise EvaluationFailed(f"the penalty's amount {amount}: {err}") from err
    return Penalty(amount=cents, who=str(who))


def _alert(
    prepared: _Rule,
    tier: str,
    outcome: Outcome,
    env: RuleEnv,
    at: datetime,
    triggered_by: list[str],
    rule_set: str | None,
) -> Alert:
    rule = prepared.rule
    values = {name: json_value(value) for name, value in env.lets.items()}
    values.update(_event_numbers(env.event))
    if env.start is not None:
        values["start"] = _iso(env.start)
    if env.deadline is not None:
        values["deadline"] = _iso(env.deadline)
    message = outcome.message(env)
    return Alert(
        fingerprint=fingerprint(rule.id, tier, env.key),
        rule_id=rule.id,
        rule_name=rule.name,
        severity=outcome.severity,
        status="firing",
        key=dict(env.key),
        labels=dict(rule.labels),
        message=str(message),
        values=values,
        triggered_by=triggered_by,
        at=at,
        source=rule.source,
        penalty=_penalty(outcome, env),
        rule_set=rule_set,
    )


def _remember_firing(tables: Tables, alert: Alert, seq: int | None) -> None:
    tables["rule_alerts"][alert.fingerprint] = {
        "status": "firing",
        "seq": seq,
        "alert": alert.model_dump(mode="json"),
    }


@dataclass(frozen=True, slots=True)
class Verdict:
    """An event rule fires (``values``: its lets' values, in order) or resolves (None)."""

    values: tuple[Any, ...] | None
    key: dict[str, str]
    fp: str
    last: Mapping[str, Any] | None  # the fingerprint's ``rule_alerts`` entry


def _redelivered(
    tables: Tables, prepared: _Rule, key: Mapping[str, str], seq: int
) -> tuple[bool, str, Mapping[str, Any] | None]:
    """Whether ``seq`` was judged for this alert already, its fingerprint and entry."""
    fp = fingerprint(prepared.rule.id, "", key)
    last = tables["rule_alerts"].get(fp)
    old = last is not None and last.get("seq") is not None and int(last["seq"]) >= seq
    return old, fp, last


def _resolved(last: Mapping[str, Any], at: datetime, triggered_by: list[str]) -> Alert:
    """The firing alert ``last`` remembered, now resolved by ``triggered_by`` at ``at``."""
    fired = Alert.model_validate(last["alert"])
    return fired.model_copy(update={"status": "resolved", "at": at, "triggered_by": triggered_by})


# --- watches -------------------------------------------------------------------------------


def _tier_deadlines(prepared: _Rule, env: RuleEnv, base: datetime) -> dict[str, datetime]:
    """Each tier's deadline: ``base`` + its duration, its ``by`` time, or ``base`` itself."""
    deadlines: dict[str, datetime] = {}
    for tier in prepared.tiers:
        if tier.after is not None:
            after = tier.after
            try:
                deadline = prepared.calendar.add(base, after.amount, after.business)
            except CalendarError as err:  # the rule's calendar cannot count this far
                raise EvaluationFailed(f"tier {tier.name}: {err}") from err
        elif tier.by is not None:
            deadline = tier.by(env)
            if not isinstance(deadline, datetime) or deadline.tzinfo is None:
                raise EvaluationFailed(f"tier {tier.name}: `by` gave {deadline!r}, not a time")
        else:
            deadline = base
        deadlines[tier.name] = deadline
    return deadlines


def _new_watch(
    rule_id: str,
    key: Mapping[str, str],
    start: datetime,
    deadlines: Mapping[str, datetime],
    event: Event | None,
    seq: int | None,
) -> dict[str, Any]:
    """A ``rule_timers`` value: JSON only, so Faust can keep it in a changelog."""
    ordered = sorted(deadlines.items(), key=lambda item: item[1])
    watch: dict[str, Any] = {
        "rule": rule_id,
        "key": dict(key),
        "start": _iso(start),
        "seq": seq,
        "event_id": event.event_id if event else None,
        "event_type": event.type if event else None,
        "event": event.model_dump(mode="json") if event else None,
        "tiers": {name: _iso(t) for name, t in ordered},
        "fired": [],
        # `expect … where` sees the first deadline as `deadline`.
        "expect_deadline": _iso(ordered[0][1]) if ordered else None,
    }
    watch["next"] = _next_deadline(watch)
    return watch


def _pending(watch: Mapping[str, Any]) -> list[tuple[str, datetime]]:
    fired = set(watch["fired"])
    pending = [(n, _time(t)) for n, t in watch["tiers"].items() if n not in fired]
    return sorted(pending, key=lambda item: item[1])


def _next_deadline(watch: Mapping[str, Any]) -> str | None:
    pending = _pending(watch)
    return _iso(pending[0][1]) if pending else None


# --- schedules -----------------------------------------------------------------------------


def _schedule_clock_key(prepared: _Rule) -> str:
    return f"schedule:{prepared.rule.id}"


def _schedule_state(tables: Tables, prepared: _Rule, now: datetime | None = None) -> dict[str, Any]:
    """The rule's current period: ``deadline`` (ISO), ``satisfied`` keys and ``open``
    watches (key -> watch keys of missed earlier deadlines). Begins with the first
    deadline after ``now``."""
    entry = tables["rule_clock"].get(_schedule_clock_key(prepared))
    if entry is not None:
        return dict(entry)
    if now is None:
        return {"deadline": None, "satisfied": [], "open": {}}
    first = _next_schedule_deadline(prepared, now)
    return {"deadline": _iso(first), "satisfied": [], "open": {}}


def _store_schedule_state(tables: Tables, prepared: _Rule, state: dict[str, Any]) -> None:
    tables["rule_clock"][_schedule_clock_key(prepared)] = state


def _forget_open(tables: Tables, prepared: _Rule, watch: Mapping[str, Any], wkey: str) -> None:
    state = _schedule_state(tables, prepared)
    if state.get("deadline") is None:
        return
    ktext = key_text(watch["key"])
    remaining = [k for k in state["open"].get(ktext, []) if k != wkey]
    open_watches = {k: v for k, v in state["open"].items() if k != ktext}
    if remaining:
        open_watches[ktext] = remaining
    _store_schedule_state(tables, prepared, {**state, "open": open_watches})


def _schedule_deadline(prepared: _Rule, year: int, month: int) -> datetime:
    schedule = prepared.rule.schedule
    assert schedule is not None  # only schedule rules get here
    hour, minute = schedule.at
    return prepared.calendar.monthly_deadline(year, month, schedule.day, time(hour, minute))


def _next_schedule_deadline(prepared: _Rule, after: datetime) -> datetime:
    """The first deadline strictly after ``after``."""
    local = prepared.calendar.local(after)
    year, month = local.year, local.month
    for _ in range(3):
        deadline = _schedule_deadline(prepared, year, month)
        if deadline > after:
            return deadline
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise EngineError(f"rule {prepared.rule.id}: no schedule deadline after {after}")


def _previous_schedule_deadline(prepared: _Rule, deadline: datetime) -> datetime:
    local = prepared.calendar.local(deadline)
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return _schedule_deadline(prepared, year, month)
