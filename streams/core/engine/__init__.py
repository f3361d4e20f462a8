"""The rule engine: compiled rules judged against events and the passing of time.

Pure: no Faust, Kafka, clock or environment. Time comes in as the event's time
(``on_event``) or as the caller's clock (``on_tick``). All memory lives in three tables
(``rule_timers``, ``rule_alerts``, ``rule_clock``) so the live worker keeps it in
changelog-backed Faust tables; a newcomer reads the package one module at a time:

* ``state``       the typed entries the engine stores and their one JSON codec (and what
                  happens to entries written by older versions);
* ``rules``       a compiled rule as the engine runs it, the environment its expressions
                  read, and where a rule's own failures are counted;
* ``alerts``      alert identity (``fingerprint``), the firing alert, the one fire and the
                  one resolve;
* ``event_rules`` ``on … when …``: fire while the condition holds, resolve when it stops;
* ``deadlines``   ``after … expect … within …``: watches, their tiers and the deadline index;
* ``schedules``   ``every month …``: periods, and a watch for each key that missed one;
* ``values``      how values are written into alerts;
* this module     ``Engine``: which rules an event concerns, in which order they are judged.

A missing value only makes a rule's condition false (docs/rules.md, "Missing values"). A
rule whose own expression fails on the data does not fire for that evaluation; the failure
is counted per rule in ``Engine.errors`` and the other rules go on. Nothing else is caught:
an exception out of the engine's own code is a bug and propagates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from contract.events import Alert, Event
from dsl.builtins import EvaluationFailed
from dsl.calendar import Calendar
from dsl.compiled import CompiledRule
from streams.core.engine.alerts import fingerprint
from streams.core.engine.deadlines import Watches
from streams.core.engine.event_rules import Verdict, judge, verdict
from streams.core.engine.rules import (
    EngineError,
    Judging,
    Prepared,
    RuleEnv,
    bind,
    order_of,
    prepare,
    rule_env,
)
from streams.core.engine.rules import (
    default_calendar as choose_calendar,
)
from streams.core.engine.schedules import Schedules, open_periods
from streams.core.engine.state import (
    EngineClock,
    StateError,
    key_text,
    read_watermark,
    watch_key,
    write_watermark,
)
from streams.core.engine.values import decimal_text, duration_text, json_value
from streams.core.state import StateView, Tables

__all__ = [
    "Engine",
    "EngineError",
    "Prepared",
    "RuleEnv",
    "StateError",
    "Verdict",
    "bind",
    "decimal_text",
    "duration_text",
    "fingerprint",
    "json_value",
    "key_text",
    "order_of",
    "rule_env",
    "stored_watermark",
    "verdict",
    "watch_key",
]

_Step = Callable[[Prepared, Tables, RuleEnv, Event, Mapping[str, Any] | None, int], list[Alert]]


def stored_watermark(tables: Tables) -> datetime | None:
    """The latest time an engine judged on these tables (``rule_clock``), if any."""
    return read_watermark(tables)


def _by_type(rules: Iterable[Prepared], types: str) -> dict[str, list[Prepared]]:
    index: dict[str, list[Prepared]] = {}
    for prepared in rules:
        rule = prepared.rule
        names = {"triggers": rule.triggers, "expect": rule.expect, "cancel_on": rule.cancel_on}
        for type_name in sorted(names[types]):
            index.setdefault(type_name, []).append(prepared)
    return index


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
        default = choose_calendar(calendars, default_calendar)
        prepared = [prepare(rule, calendars, default) for rule in rules]
        ids = Counter(p.rule.id for p in prepared)
        duplicates = sorted(rule_id for rule_id, n in ids.items() if n > 1)
        if duplicates:
            raise EngineError(f"duplicate rule ids: {', '.join(duplicates)}")
        self._judging = Judging({p.rule.id: p for p in prepared}, rule_set)
        self._on = _by_type((p for p in prepared if p.rule.kind == "event"), "triggers")
        self._after = _by_type((p for p in prepared if p.rule.kind == "deadline"), "triggers")
        self._expect = _by_type((p for p in prepared if p.rule.kind != "event"), "expect")
        self._cancel = _by_type((p for p in prepared if p.rule.kind != "event"), "cancel_on")
        self._watches = Watches(self._judging)
        schedules = [p for p in prepared if p.rule.kind == "schedule"]
        self._schedules = Schedules(self._watches, schedules)

    @property
    def rules(self) -> dict[str, Prepared]:
        """The rules by id."""
        return self._judging.rules

    @property
    def rule_set(self) -> str | None:
        """The version of the rule files each alert names."""
        return self._judging.rule_set

    @property
    def errors(self) -> Counter[str]:
        """Rule id -> evaluations that failed on the rule's own expression (never reset)."""
        return self._judging.errors

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
            alerts += self._guarded(prepared, self._watches.trigger, tables, env, event, order, seq)
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
        return read_watermark(tables)

    # --- one rule, one event ----------------------------------------------------------

    def _guarded(
        self,
        prepared: Prepared,
        step: _Step,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        """``step`` for one rule; a failure of the rule's own expression stays with it."""
        try:
            return step(prepared, tables, env, event, order, seq)
        except EvaluationFailed as exc:
            self._judging.failed(prepared, exc)
            return []

    def _judge(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        return judge(self._judging, prepared, tables, env, event, order, seq)

    def _expected(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        if prepared.rule.kind == "schedule":
            return self._schedules.expected(prepared, tables, env, event, order, seq)
        return self._watches.expected(prepared, tables, env, event, order, seq)

    def _cancelled(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        key = prepared.key_of(event, order)
        if prepared.rule.kind == "schedule":
            wkeys = open_periods(tables, prepared.rule.id, key)
        else:
            wkeys = [watch_key(prepared.rule.id, key)]
        return self._watches.cancelled(tables, wkeys, event, seq)

    # --- time passing -----------------------------------------------------------------

    def _advance(self, tables: Tables, now: datetime) -> list[Alert]:
        """Fire every schedule period and watch tier that ``now`` is past, in time order."""
        self._schedules.advance(tables, now)
        alerts = self._watches.advance(tables, now)
        alerts.sort(key=lambda a: a.at)
        return alerts

    def _note_watermark(self, tables: Tables, now: datetime) -> None:
        current = read_watermark(tables)
        if current is None or now > current:
            write_watermark(tables, EngineClock(watermark=now))
