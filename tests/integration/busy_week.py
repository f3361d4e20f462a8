"""A busy working week for the seed rules: a few thousand events that raise hundreds of
alerts whose values depend on the live tables (caps read what is in transit), and a way
to compare the alerts a worker published with ``orderhub replay``'s.

The week runs Monday 2 to Friday 6 November 2026 in business hours (Asia/Shanghai), in
event-time order. No deadline of the seed rules falls after 17:00 on Friday while the last
event is at 17:59, so the live worker, whose clock runs on past the last event in real
time, and replay, whose clock stops at the last event, fire the same deadlines.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from contract.events import Alert
from streams.offline.replay import load_engine, run
from tests.streams.offline.event_lines import read_events

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
TZ = timezone(timedelta(hours=8))
REGIONS = ("north", "east", "south", "west")  # west has no limits on record: CAP-LIMITS
MODELS = ("X100", "X200", "X300")
DAYS = 5
LAST_START_FRIDAY = 14  # no watch starts on Friday after 14:00: its deadline would be late


def _business_minutes(day: int) -> list[datetime]:
    start = datetime(2026, 11, 2 + day, 9, 0, tzinfo=TZ)
    return [start + timedelta(minutes=m) for m in range(9 * 60)]  # 09:00 .. 17:59


def busy_week(seed: int = 6, orders: int = 700) -> list[dict[str, Any]]:
    """About ``orders`` × 4 events, sorted by event time (ties keep their order)."""
    rng = random.Random(seed)
    out: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(at: datetime, event_id: str, type_: str, **fields: Any) -> None:
        record = {"event_id": event_id, "type": type_, "event_time": at.isoformat()}
        out.append((at, len(out), {**record, "source": "erp", **fields}))

    monday = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
    for region in REGIONS[:3]:
        add(monday, f"rl-{region}", "inventory.region_limits", region=region, reasonable_stock=500)
    for model in MODELS:
        limits = {"reasonable_stock": 150, "upper_limit": 600}
        add(monday, f"ml-{model}", "inventory.model_limits", model=model, **limits)
    for day in range(DAYS):
        morning = datetime(2026, 11, 2 + day, 8, 30, tzinfo=TZ)
        for model in MODELS:
            on_hand = rng.randint(20, 80)
            add(morning, f"st-{day}-{model}", "inventory.stock_level", model=model, on_hand=on_hand)
            for region in REGIONS:
                qty = rng.randint(0, 40)
                fields = {"region": region, "model": model, "week_start": "2026-11-02"}
                add(morning, f"fc-{day}-{region}-{model}", "plan.forecast", **fields, quantity=qty)
    # The warehouse counts every quarter of an hour: an order confirmed just before a count
    # and judged again after it (a redelivery) would see the wrong stock (INV-1).
    for day in range(DAYS):
        for t in _business_minutes(day)[::15]:
            model = rng.choice(MODELS)
            on_hand = rng.randint(10, 90)
            add(t, f"st-{t:%d%H%M}-{model}", "inventory.stock_level", model=model, on_hand=on_hand)
    starts = [
        t
        for day in range(DAYS)
        for t in _business_minutes(day)
        if day < DAYS - 1 or t.hour < LAST_START_FRIDAY
    ]
    for n in range(orders):
        _order(add, rng, n, rng.choice(starts))
    out.sort(key=lambda item: (item[0], item[1]))
    return _distinct_times([record for _, _, record in out])


def _distinct_times(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event a second after the one before at the least. Events of one time on two
    topics have no order of their own (the worker merges topics by event time), so the
    week has none: it judges the same live and in replay."""
    last: datetime | None = None
    for record in records:
        at = datetime.fromisoformat(record["event_time"])
        if last is not None and at <= last:
            at = last + timedelta(seconds=1)
            record["event_time"] = at.isoformat()
        last = at
    return records


def _order(add: Any, rng: random.Random, n: int, received: datetime) -> None:
    oid = f"BW-{n:05d}"
    keys = {"order_id": oid, "region": rng.choice(REGIONS), "model": rng.choice(MODELS)}
    qty = rng.randint(5, 90)
    money = {"quantity": qty, "amount": f"{qty * 1200}.00"}
    add(received, f"{oid}-rcv", "order.received", **keys, **money)
    # One order in eight is entered late (SLA-1), one in eight confirmed late (SLA-2).
    entered = received + timedelta(minutes=rng.choice([5, 20, 45, 150]))
    add(entered, f"{oid}-ent", "order.entered", **keys, **money)
    fate = rng.random()
    if fate < 0.1:
        return  # never confirmed: SLA-2 fires, unless Friday's deadline is after the end
    confirmed = entered + timedelta(minutes=rng.choice([10, 60, 120, 300]))
    add(confirmed, f"{oid}-cnf", "order.confirmed", **keys, **money)
    if fate < 0.2:
        add(confirmed + timedelta(minutes=30), f"{oid}-cxl", "order.cancelled", **keys)
    elif fate < 0.97:
        delivered = confirmed + timedelta(hours=rng.randint(2, 12))
        add(delivered, f"{oid}-dlv", "order.delivered", **keys, quantity=qty)


def last_time(records: list[dict[str, Any]]) -> datetime:
    return max(datetime.fromisoformat(r["event_time"]) for r in records)


def trimmed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The week without events after Friday 17:59 (deliveries run on into the weekend)."""
    end = datetime(2026, 11, 2 + DAYS - 1, 17, 59, tzinfo=TZ)
    return [r for r in records if datetime.fromisoformat(r["event_time"]) <= end]


def replayed(records: list[dict[str, Any]]) -> list[Alert]:
    """What ``orderhub replay`` of the seed rules says of ``records``."""
    text = [json.dumps(r) for r in records]
    return run(load_engine(RULES), read_events(text, lambda line, reason: None), None).alerts


def identity(alert: Alert) -> str:
    """Everything an alert says, as one comparable text."""
    return alert.model_dump_json()


def compare(live: Iterable[Alert], expected: list[Alert]) -> tuple[list[str], list[str]]:
    """(extra, lost): live alerts replay does not have, and replay's that live lacks, after
    de-duplicating live by its whole content (a redelivered alert is the same alert)."""
    want = Counter(identity(a) for a in expected)
    have = Counter(set(identity(a) for a in live))
    extra = sorted((have - want).elements())
    lost = sorted((want - have).elements())
    return extra, lost
