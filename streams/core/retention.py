"""Closed orders leave the live tables once their retention is over; daily shipping plan
lines once their month is older than the assessment keeps (``prune_plan_lines``).

Pure: no Faust, no Kafka, no clock; the worker's tick calls ``prune_closed`` with its
event-time watermark (``streams.worker.judging``), so memory and changelogs follow the open orders,
not the history. An order is closed when it is cancelled, rejected, or delivered and paid in
full (``streams.core.state.is_closed``); ``retention`` after that its record goes, and with it
what the rule engine still keeps for it: watches that wait for a step that will never come
and alerts still firing for it. A Faust table deletes with a tombstone on its changelog.

An event for an order that arrives after its retention starts a new record: set the
retention well beyond the time any source may be late.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.core.engine.state import all_alerts, all_watches
from streams.core.state import Tables, expired_orders, expired_plan_lines


def prune_closed(tables: Tables, now: datetime, retention: timedelta) -> list[str]:
    """Remove the orders closed at least ``retention`` before ``now``, with the engine's
    watches and alert states keyed by them; returns their ids."""
    gone = expired_orders(tables["orders"], now - retention)
    if not gone:
        return []
    ids = set(gone)
    for order_id in gone:
        del tables["orders"][order_id]
    timers, alerts = tables["rule_timers"], tables["rule_alerts"]
    for wkey, watch in all_watches(timers):
        if watch.key.get("order_id") in ids:
            del timers[wkey]
    for fp, firing in all_alerts(alerts):
        if firing.alert.key.get("order_id") in ids:
            del alerts[fp]
    return gone


def prune_plan_lines(tables: Tables, before: date) -> int:
    """Remove the daily shipping plan lines of days before ``before``; returns how many.

    The worker passes the first day of the oldest business month the assessment keeps
    (``Settings.assessment_months``), so a month's report always has its plan."""
    gone = expired_plan_lines(tables["plan_lines"], before.isoformat())
    for key in gone:
        del tables["plan_lines"][key]
    return len(gone)


def first_kept_day(now: datetime, months: int, zone: ZoneInfo) -> date:
    """The first day of the business month ``months`` before ``now``'s."""
    local = now.astimezone(zone)
    index = local.year * 12 + (local.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)
