"""Deadline rules (``after TYPE … expect TYPE within …``): a trigger starts a ``Watch``, the
expected event ends it, the passing of time fires its tiers.

Deadlines are inclusive: an expected event exactly at a deadline is in time, and a tier
fires once the clock is past its deadline, with ``at`` = the deadline itself (whenever
the clock notices it). A late expected event first fires the tiers it missed, then
resolves every tier that fired; a ``cancel on`` event, or the trigger again (a new start),
resolves them as well. The resolved alert says which event resolved it and how late it
was; its values are the firing values with the resolving event's numbers.

Schedule rules (``streams.core.engine.schedules``) open a watch per missed period and
reuse everything here from there on.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from contract.events import Alert, Event
from dsl.builtins import EvaluationFailed
from dsl.calendar import CalendarError
from streams.core.engine.alerts import fingerprint, fire, lateness, new_alert, resolve
from streams.core.engine.rules import Judging, Prepared, RuleEnv, bind, order_of, rule_env
from streams.core.engine.state import (
    FiringAlert,
    Watch,
    all_watches,
    read_alert,
    read_watch,
    watch_key,
    write_watch,
)
from streams.core.engine.values import event_numbers
from streams.core.state import StateView, Table, Tables

# How a watch ends: its expected event came, a `cancel on` event, or its trigger again.
Ending = Literal["expected", "cancelled", "restarted"]


def tier_deadlines(
    prepared: Prepared, env: RuleEnv, base: datetime
) -> tuple[tuple[str, datetime], ...]:
    """Each tier's deadline, in deadline order: ``base`` + its duration, its ``by`` time, or
    ``base`` itself."""
    deadlines: list[tuple[str, datetime]] = []
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
        deadlines.append((tier.name, deadline))
    return tuple(sorted(deadlines, key=lambda item: item[1]))


def satisfies(
    prepared: Prepared,
    env: RuleEnv,
    key: Mapping[str, str],
    start: datetime,
    deadline: datetime,
) -> bool:
    """``expect … where`` with ``event`` = the candidate and the watch's deadline."""
    where = prepared.rule.expect_where
    if where is None:
        return True
    return bool(where(bind(env, prepared, key, start, deadline)))


class DeadlineIndex:
    """The watches' next deadlines as an in-memory heap, so a tick looks only at what is due.

    Derived from ``rule_timers``, never stored: rebuilt when handed another table (a new
    worker, a rebalance), pushed to on every write; an entry that no longer matches its
    watch is skipped when popped.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._table: Table | None = None

    def sync(self, timers: Table) -> None:
        if self._table is timers:
            return
        self._table = timers
        self._heap = [(w.next_deadline, k) for k, w in all_watches(timers) if w.next_deadline]
        heapq.heapify(self._heap)

    def push(self, at: datetime, wkey: str) -> None:
        heapq.heappush(self._heap, (at, wkey))

    def pop_due(self, now: datetime) -> tuple[datetime, str] | None:
        """The earliest indexed deadline before ``now``, removed; None when nothing is due."""
        if self._heap and self._heap[0][0] < now:
            return heapq.heappop(self._heap)
        return None


class Watches:
    """Starts, ends and fires watches (see the module docstring)."""

    def __init__(self, judging: Judging) -> None:
        self.judging = judging
        self.index = DeadlineIndex()

    def store(self, tables: Tables, watch: Watch) -> None:
        self.index.sync(tables["rule_timers"])
        wkey = write_watch(tables, watch)
        if watch.next_deadline is not None:
            self.index.push(watch.next_deadline, wkey)

    # --- events -------------------------------------------------------------------------

    def trigger(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        """A trigger starts the rule's watch for its key (ending an older one)."""
        rule = prepared.rule
        key = prepared.key_of(event, order)
        wkey = watch_key(rule.id, key)
        old = read_watch(tables, wkey)
        if old is not None and (
            old.event_id == event.event_id or (old.seq is not None and old.seq >= seq)
        ):
            return []  # the same start event again: keep the watch and its fired tiers
        bind(env, prepared, key, start=event.event_time)
        if rule.where is not None and not rule.where(env):
            return []
        tiers = tier_deadlines(prepared, env, event.event_time)
        alerts = self.end(tables, wkey, old, event, "restarted") if old is not None else []
        start_event = event.model_dump(mode="json")
        self.store(tables, Watch(rule.id, key, event.event_time, seq, start_event, tiers))
        return alerts

    def expected(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        """The expected event ends the watch of its key if ``expect … where`` holds."""
        key = prepared.key_of(event, order)
        wkey = watch_key(prepared.rule.id, key)
        watch = read_watch(tables, wkey)
        if watch is None or (watch.seq is not None and watch.seq >= seq):
            return []  # nothing to end, or the watch started after this event
        if not satisfies(prepared, env, key, watch.start, watch.expect_deadline):
            return []
        return self.end(tables, wkey, watch, event, "expected")

    def cancelled(self, tables: Tables, wkeys: list[str], event: Event, seq: int) -> list[Alert]:
        """A ``cancel on`` event ends the watches ``wkeys`` that started before it."""
        alerts: list[Alert] = []
        for wkey in wkeys:
            watch = read_watch(tables, wkey)
            if watch is not None and (watch.seq is None or watch.seq < seq):
                alerts += self.end(tables, wkey, watch, event, "cancelled")
        return alerts

    def end(
        self, tables: Tables, wkey: str, watch: Watch, event: Event, ending: Ending
    ) -> list[Alert]:
        """Remove the watch under ``wkey``; each tier it had fired is resolved by ``event``.

        A step that comes after a deadline the clock had not yet passed (the live worker
        fires deadlines on its next tick) is late all the same: the tiers it missed fire
        first, at their deadlines, and are resolved with the rest.
        """
        alerts, after = self.fire_due(tables, wkey, watch, event.event_time)
        if after is None:
            return alerts  # its rule left the rule set
        del tables["rule_timers"][wkey]
        by = [i for i in (after.event_id, event.event_id) if i]
        deadlines = dict(after.tiers)
        for tier in after.fired:
            fp = fingerprint(after.rule, after.tier_identity(tier), after.key)
            firing = read_alert(tables, fp)
            if firing is not None:
                alerts.append(_resolve_tier(tables, firing, event, by, deadlines[tier], ending))
        return alerts

    # --- time passing -----------------------------------------------------------------

    def advance(self, tables: Tables, now: datetime) -> list[Alert]:
        """Fire every tier that ``now`` is past, in time order."""
        timers = tables["rule_timers"]
        self.index.sync(timers)
        alerts: list[Alert] = []
        while (due := self.index.pop_due(now)) is not None:
            at, wkey = due
            watch = read_watch(tables, wkey)
            if watch is None or watch.next_deadline != at:
                continue  # ended or rescheduled since it was indexed
            alerts += self.fire_due(tables, wkey, watch, now)[0]
        return alerts

    def fire_due(
        self, tables: Tables, wkey: str, watch: Watch, now: datetime
    ) -> tuple[list[Alert], Watch | None]:
        """Fire the watch's tiers whose deadline ``now`` is past; the alerts, and the watch
        as stored now (None: dropped, its rule left the rule set)."""
        prepared = self.judging.rules.get(watch.rule)
        if prepared is None:
            # The rule left the rule set (a reload) after the watch began: drop the watch.
            del tables["rule_timers"][wkey]
            return [], None
        fired = list(watch.fired)
        alerts: list[Alert] = []
        for tier_name, deadline in watch.pending():
            if deadline >= now:
                break
            fired.append(tier_name)
            alert = self._fire_tier(tables, prepared, watch, tier_name, deadline)
            if alert is not None:
                alerts.append(alert)
        after = replace(watch, fired=tuple(fired))
        self.store(tables, after)
        return alerts, after

    def _fire_tier(
        self, tables: Tables, prepared: Prepared, watch: Watch, tier_name: str, deadline: datetime
    ) -> Alert | None:
        tier = next((t for t in prepared.tiers if t.name == tier_name), None)
        if tier is None:
            return None  # the rule was edited and lost this tier
        start_event = watch.parsed_start_event()
        order = order_of(tables, start_event)
        env = rule_env(start_event, order, StateView(tables), deadline, prepared.calendar)
        bind(env, prepared, dict(watch.key), watch.start, deadline)
        by = [watch.event_id] if watch.event_id else []
        identity = watch.tier_identity(tier.name)
        rule_set = self.judging.rule_set
        try:
            for name, expr in tier.outcome.lets:
                env.lets[name] = expr(env)
            alert = new_alert(prepared, identity, tier.outcome, env, deadline, by, rule_set)
        except EvaluationFailed as exc:
            self.judging.failed(prepared, exc)
            return None
        return fire(tables, alert, None)


def _resolve_tier(
    tables: Tables,
    firing: FiringAlert,
    event: Event,
    by: list[str],
    deadline: datetime,
    ending: Ending,
) -> Alert:
    """A fired tier resolved as its watch ends: its values with the resolving event's numbers."""
    kept = {k: v for k, v in firing.alert.values.items() if not k.startswith("event.")}
    values = {**kept, **event_numbers(event)}
    if ending == "expected":
        why = lateness(event.event_time, deadline)
    elif ending == "cancelled":
        why = "the watch is cancelled"
    else:
        why = "the watch started again"
    return resolve(tables, firing, event, by, values, why)
