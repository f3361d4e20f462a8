"""State stays bounded: the tables follow the open orders, not the history.

50,000 orders through the seed rules, as the worker judges them: a third left open and
overdue (entered, never confirmed: SLA-2 fires and waits), a third cancelled, a third
delivered and paid. No table entry grows with the number of orders or alerts, and once the
retention is over nothing of a closed order is left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from contract.events import Event, parse_event
from streams.core.retention import prune_closed
from streams.core.state import apply_event, empty_tables, is_closed
from streams.offline.replay import load_engine

RULES = Path(__file__).resolve().parents[3] / "rules"
TZ = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)  # a Monday
RETENTION = timedelta(days=7)
ORDERS = 50_000
ENTRY_LIMIT = 4096  # bytes of JSON: "a few kilobytes"


def order_events(n: int) -> Iterator[Event]:
    oid, at = f"R{n:06d}", START + timedelta(seconds=20 * n)
    keys = {"order_id": oid, "region": ("north", "east", "south")[n % 3], "model": "X100"}
    money = {"quantity": 5, "amount": "6000"}

    def ev(step: str, when: datetime, **fields: Any) -> Event:
        record = {"event_id": f"{oid}-{step}", "type": f"order.{step}", "source": "erp"}
        return parse_event({**record, "event_time": when.isoformat(), **keys, **fields})

    yield ev("received", at, **money)
    yield ev("entered", at + timedelta(minutes=5), **money)
    fate = n % 3
    if fate == 1:
        yield ev("cancelled", at + timedelta(minutes=30))
    elif fate == 2:
        yield ev("confirmed", at + timedelta(minutes=20), **money)
        yield ev("delivered", at + timedelta(hours=2), quantity=5)
        yield ev("paid", at + timedelta(hours=3), amount="6000")


def stream() -> list[Event]:
    events = [e for n in range(ORDERS) for e in order_events(n)]
    return sorted(events, key=lambda e: e.event_time)


def entry_sizes(tables: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The largest entry of each table, in bytes of JSON."""
    return {
        name: max((len(json.dumps(v, default=str)) for v in table.values()), default=0)
        for name, table in tables.items()
    }


def test_fifty_thousand_orders_leave_only_the_open_ones_and_no_entry_grows() -> None:
    engine = load_engine(RULES)
    tables = empty_tables()
    alerts = 0
    pruned_at = START
    for seq, event in enumerate(stream()):
        if apply_event(tables, event, seq):
            alerts += len(engine.on_event(tables, event, seq))
        # The worker prunes once an hour of event time; the test's orders are denser.
        if event.event_time - pruned_at >= timedelta(hours=12):
            pruned_at = event.event_time
            alerts += len(engine.on_tick(tables, pruned_at))
            prune_closed(tables, pruned_at, RETENTION)
    assert alerts > ORDERS // 3  # every open order is overdue (SLA-2) and alerts

    largest = entry_sizes(tables)
    assert max(largest.values()) < ENTRY_LIMIT, largest

    # After the retention, only the open orders and what fires for them are left.
    end = pruned_at + RETENTION + timedelta(days=1)
    engine.on_tick(tables, end)
    gone = prune_closed(tables, end, RETENTION)
    assert gone  # the last closed orders leave now
    open_ids = {f"R{n:06d}" for n in range(ORDERS) if n % 3 == 0}
    assert set(tables["orders"]) == open_ids
    assert not any(is_closed(order) for order in tables["orders"].values())
    keyed = [
        *(w["key"].get("order_id") for w in tables["rule_timers"].values()),
        *(e["alert"]["key"].get("order_id") for e in tables["rule_alerts"].values()),
    ]
    assert {k for k in keyed if k is not None} <= open_ids
    # Per open order: its record, its SLA-2 watch and the firing SLA-2 alert.
    assert len(tables["rule_timers"]) <= len(open_ids)
    assert len(tables["rule_alerts"]) <= len(open_ids) + 10  # a few region/model alerts
    assert max(entry_sizes(tables).values()) < ENTRY_LIMIT


def test_a_closed_order_stays_for_its_retention_then_leaves() -> None:
    tables = empty_tables()
    for seq, event in enumerate(order_events(2)):  # delivered and paid
        apply_event(tables, event, seq)
    [oid] = tables["orders"]
    closed_at = datetime.fromisoformat(tables["orders"][oid]["closed_at"])
    assert closed_at == START + timedelta(seconds=40, hours=3)  # paid in full
    assert prune_closed(tables, closed_at + RETENTION - timedelta(seconds=1), RETENTION) == []
    assert prune_closed(tables, closed_at + RETENTION, RETENTION) == [oid]
    assert tables["orders"] == {}


def test_an_order_delivered_but_not_paid_is_still_open() -> None:
    tables = empty_tables()
    events = list(order_events(2))[:-1]  # no payment
    for seq, event in enumerate(events):
        apply_event(tables, event, seq)
    [order] = tables["orders"].values()
    assert order["status"] == "delivered" and order["closed_at"] is None
    assert prune_closed(tables, START + timedelta(days=365), RETENTION) == []
