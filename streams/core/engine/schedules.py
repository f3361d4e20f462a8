"""Schedule rules (``every month on day D at HH:MM expect TYPE for each region|model``).

A schedule rule is always in one period (``SchedulePeriod``: its deadline and the keys
that delivered for it). When the clock passes the deadline, every known region (or
model) that did not deliver gets a ``Watch`` of that period, its tiers counted from the
deadline, and the next period begins; from then on the watch is a deadline watch like any
other (``streams.core.engine.deadlines``). A delivery counts for the current period and
resolves the missed earlier ones it satisfies. The open watches of a key are found in
``rule_timers`` by their key prefix: a period remembers nothing it would have to keep in
step with them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, time
from typing import Any

from contract.events import Alert, Event
from dsl.builtins import EvaluationFailed
from streams.core.engine.deadlines import Watches, satisfies, tier_deadlines
from streams.core.engine.rules import EngineError, Prepared, RuleEnv, bind, rule_env
from streams.core.engine.state import (
    SchedulePeriod,
    Watch,
    key_text,
    period_prefix,
    read_period,
    read_watch,
    write_period,
)
from streams.core.state import StateView, Tables

log = logging.getLogger("streams.core.engine")

# A clock that jumps further than this many schedule periods at once is re-anchored
# instead of replaying every missed month.
_MAX_PERIODS_PER_ADVANCE = 120


def _deadline(prepared: Prepared, year: int, month: int) -> datetime:
    schedule = prepared.rule.schedule
    assert schedule is not None  # only schedule rules get here
    hour, minute = schedule.at
    return prepared.calendar.monthly_deadline(year, month, schedule.day, time(hour, minute))


def next_deadline(prepared: Prepared, after: datetime) -> datetime:
    """The first deadline strictly after ``after``."""
    local = prepared.calendar.local(after)
    year, month = local.year, local.month
    for _ in range(3):
        deadline = _deadline(prepared, year, month)
        if deadline > after:
            return deadline
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise EngineError(f"rule {prepared.rule.id}: no schedule deadline after {after}")


def previous_deadline(prepared: Prepared, deadline: datetime) -> datetime:
    local = prepared.calendar.local(deadline)
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return _deadline(prepared, year, month)


def open_periods(tables: Tables, rule_id: str, key: Mapping[str, str]) -> list[str]:
    """The ``rule_timers`` keys of ``key``'s missed periods, oldest first."""
    prefix = period_prefix(rule_id, key)
    found = [wkey for wkey in tables["rule_timers"] if wkey.startswith(prefix)]
    return sorted(found, key=lambda wkey: datetime.fromisoformat(wkey[len(prefix) :]))


def _period(tables: Tables, prepared: Prepared, now: datetime) -> SchedulePeriod:
    """The rule's current period; the first begins with the first deadline after ``now``."""
    period = read_period(tables, prepared.rule.id)
    return period or SchedulePeriod(deadline=next_deadline(prepared, now))


class Schedules:
    """Closes the periods of the schedule rules and counts their deliveries."""

    def __init__(self, watches: Watches, rules: list[Prepared]) -> None:
        self.watches = watches
        self.rules = rules

    def advance(self, tables: Tables, now: datetime) -> None:
        """Close every period whose deadline ``now`` is past (opening the missed watches)."""
        for prepared in self.rules:
            self._advance(tables, prepared, now)

    def _advance(self, tables: Tables, prepared: Prepared, now: datetime) -> None:
        stored = read_period(tables, prepared.rule.id)
        if stored is not None and stored.deadline >= now:
            # Nothing due: this runs for every event, and each write of a Faust table is
            # a changelog record, so the unchanged period is not written back.
            return
        period = stored or SchedulePeriod(deadline=next_deadline(prepared, now))
        periods = 0
        while period.deadline < now:
            periods += 1
            if periods > _MAX_PERIODS_PER_ADVANCE:
                log.warning(
                    "rule %s: clock jumped to %s; schedule re-anchored", prepared.rule.id, now
                )
                period = SchedulePeriod(deadline=next_deadline(prepared, now))
                break
            self._close(tables, prepared, period)
            period = SchedulePeriod(deadline=next_deadline(prepared, period.deadline))
        write_period(tables, prepared.rule.id, period)

    def _close(self, tables: Tables, prepared: Prepared, period: SchedulePeriod) -> None:
        """Open a watch for every region/model that did not deliver by the deadline."""
        schedule = prepared.rule.schedule
        assert schedule is not None  # only schedule rules get here
        known = "region_stock" if schedule.for_each == "region" else "stock"
        deadline = period.deadline
        start = previous_deadline(prepared, deadline)
        for name in sorted(tables[known].keys()):
            key: dict[str, str] = {schedule.for_each: name}
            if key_text(key) in period.satisfied:
                continue
            env = rule_env(None, None, StateView(tables), deadline, prepared.calendar)
            bind(env, prepared, key, start, deadline)
            try:
                tiers = tier_deadlines(prepared, env, deadline)
            except EvaluationFailed as exc:
                self.watches.judging.failed(prepared, exc)
                continue
            watch = Watch(prepared.rule.id, key, start, None, None, tiers, period=deadline)
            self.watches.store(tables, watch)

    def expected(
        self,
        prepared: Prepared,
        tables: Tables,
        env: RuleEnv,
        event: Event,
        order: Mapping[str, Any] | None,
        seq: int,
    ) -> list[Alert]:
        """A delivery counts for the current period, and resolves missed earlier ones."""
        schedule = prepared.rule.schedule
        assert schedule is not None  # only schedule rules get here
        value = getattr(event, schedule.for_each, None)
        if not isinstance(value, str):
            raise EvaluationFailed(f"{event.type} has no {schedule.for_each}")
        key: dict[str, str] = {schedule.for_each: value}
        stored = read_period(tables, prepared.rule.id)
        if stored is not None and stored.deadline < event.event_time:
            # A delivery after a deadline the clock has not yet passed (the live worker
            # closes periods on its next tick) is late all the same: close the period
            # first, as replay had at the deadline, so the watch it opens fires and this
            # delivery resolves it. Closing only opens watches: an on-time delivery of
            # another key that is still on its way ends its watch without an alert.
            self._advance(tables, prepared, event.event_time)
        alerts: list[Alert] = []
        for wkey in open_periods(tables, prepared.rule.id, key):
            watch = read_watch(tables, wkey)
            if watch is not None and satisfies(
                prepared, env, key, watch.start, watch.expect_deadline
            ):
                alerts += self.watches.end(tables, wkey, watch, event, "expected")
        period = _period(tables, prepared, event.event_time)
        start = previous_deadline(prepared, period.deadline)
        if satisfies(prepared, env, key, start, period.deadline):
            satisfied = period.satisfied | {key_text(key)}
            write_period(tables, prepared.rule.id, replace(period, satisfied=satisfied))
        return alerts
