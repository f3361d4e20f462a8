"""The one way the worker changes its tables: stage, publish, journal, commit.

The state agent (one event at a time) and the tick timer (the passing of time) both judge
through ``Judging``, under one lock, so their changes never interleave. ``streams.core.journal``
says why and how; this is its shell: Faust tables, the broker's acknowledgements.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from contract.events import Alert, Event
from streams.core.hooks import RuleHook
from streams.core.journal import (
    HEAD,
    Head,
    Staging,
    apply_changes,
    journal_parts,
    part_key,
    read_commit,
)
from streams.core.retention import prune_closed, prune_plan_lines
from streams.core.state import Table, apply_event
from streams.worker.durable import ChangelogWrites

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)

SendAlerts = Callable[[list[Alert]], Awaitable[None]]
OnRuleError = Callable[[str], Awaitable[None]]
Committed = Callable[[list[Alert]], None]


class Judging:
    """Judges events and ticks exactly once in effect (see ``streams.core.journal``)."""

    def __init__(
        self,
        tables: Mapping[str, Table],
        journal: MutableJournal,
        writes: ChangelogWrites,
        send_alerts: SendAlerts,
        *,
        retention: timedelta | None = None,
        committed: Committed | None = None,
        keep_plans_from: Callable[[datetime], date] | None = None,
    ) -> None:
        """``retention``: how long closed orders stay (``streams.core.retention``); None keeps
        them for ever. ``committed`` hears the alerts of each commit, once it is made: an
        event judged again after a failed send or a crash is heard once (the metrics).
        ``keep_plans_from``: the first day whose plan lines stay, at a time."""
        self.staging = Staging(tables)
        self.retention = retention
        self.keep_plans_from = keep_plans_from
        self.pruned_at: datetime | None = None  # the watermark of the last pruning
        self.journal = journal
        self.writes = writes
        self.send_alerts = send_alerts
        self.committed = committed
        self.lock = asyncio.Lock()
        self.head: Head | None = None  # the commit the tables are known to hold
        self.skipped = 0  # redelivered events skipped since the last one judged

    async def event(
        self, hook: RuleHook, event: Event, seq: int, on_rule_error: OnRuleError
    ) -> bool:
        """Apply and judge the event at ``seq`` of the events topic; False when an earlier
        run judged it already (its alerts are out, its writes in the tables)."""
        async with self.lock:
            head = self._recovered()
            if seq <= head.seq:
                self.skipped += 1
                return False
            if self.skipped:
                log.info("journal: %d redelivered events were judged before: skipped", self.skipped)
                self.skipped = 0
            tables = self.staging.tables
            alerts: list[Alert] = []
            if apply_event(tables, event, seq):  # a duplicate was judged under its first seq
                before_rules = self.staging.mark()
                found = call_hook(hook.on_event, tables, event, seq)
                if isinstance(found, str):
                    # The engine's half-done writes go; the event's own effect stays.
                    self.staging.rollback(before_rules)
                    await on_rule_error(found)
                else:
                    alerts = found
            await self._publish(alerts, seq)
            return True

    async def tick(self, hook: RuleHook, now: datetime) -> None:
        """The deadlines and schedules ``now`` is past."""
        async with self.lock:
            head = self._recovered()
            found = call_hook(hook.on_tick, self.staging.tables, now)
            if isinstance(found, str):
                self.staging.reset()
                return
            self._prune(now)
            await self._publish(found, head.seq)

    def _prune(self, now: datetime) -> None:
        """Closed orders past their retention leave, and plan lines of months the assessment
        no longer keeps, checked once per ``PRUNE_EVERY`` of event time (it reads them all)."""
        if self.retention is None and self.keep_plans_from is None:
            return
        if self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY:
            return
        self.pruned_at = now
        if self.retention is not None:
            gone = prune_closed(self.staging.tables, now, self.retention)
            if gone:
                log.info("retention: %d closed orders left the tables", len(gone))
        if self.keep_plans_from is not None:
            lines = prune_plan_lines(self.staging.tables, self.keep_plans_from(now))
            if lines:
                log.info("retention: %d daily shipping plan lines left the tables", lines)

    def _recovered(self) -> Head:
        """The commit the tables hold, completing the latest journaled one first when this
        worker has not made it itself (after a restart, or a partition handed over)."""
        raw = self.journal.get(HEAD)
        latest = Head.from_json(raw) if raw is not None else Head(0, -1, 0)
        if self.head != latest:
            found = read_commit(self.journal)
            if found is not None:
                apply_changes(self.staging.base, found[1])
                log.info("journal: commit %d (events up to %d) applied", latest.number, latest.seq)
            self.head = latest
            self.staging.reset()  # the tables changed under the engine's indexes
        elif self.staging.dirty:
            self.staging.reset()  # what a failed send left staged never happened
        return latest

    async def _publish(self, alerts: list[Alert], seq: int) -> None:
        assert self.head is not None  # _recovered ran
        changes = self.staging.changes()
        if not changes and not alerts:
            return  # judged again after a crash, it changes nothing again
        await self.send_alerts(alerts)
        number = self.head.number + 1
        parts = journal_parts(number, changes)
        for index, part in enumerate(parts):
            self.journal[part_key(number, index)] = part
        await self.writes.settle()  # the parts first: a head names only complete parts
        head = Head(number, seq, len(parts))
        self.journal[HEAD] = head.to_json()
        await self.writes.settle()
        self.staging.commit()
        await self.writes.settle()
        self.head = head
        if self.committed is not None and alerts:
            self.committed(alerts)


MutableJournal = Any  # a Faust table (or a dict in tests): HEAD and part keys -> JSON


def call_hook(call: Callable[..., list[Alert]], *args: Any) -> list[Alert] | str:
    """The hook's alerts, or the error text when the hook failed.

    A failing rule must not stop the tables: the error is logged with its traceback and
    (for an event) dead-lettered, and the stream goes on.
    """
    try:
        return call(*args)
    except Exception as exc:
        log.exception("rule hook failed")
        return f"rule hook failed: {type(exc).__name__}: {exc}"
