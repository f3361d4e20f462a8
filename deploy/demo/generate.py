"""Write ``deploy/demo/events.jsonl``: one seeded, realistic week of OrderHub events.

Mon 2026-11-02 .. Sun 2026-11-08, Asia/Shanghai time (+08:00), four sales regions and three
product models: limits, stock, forecasts and plans at the start of the week, then orders
moving through their lifecycle (releases on Mondays and Thursdays, a few scattered ones),
two special orders with deposits, a few SLA breaches, and three malformed records that
the worker must dead-letter. Deterministic: the same seed writes the same file.

    python -m deploy.demo.generate [--seed 2026] [--out deploy/demo/events.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.models import parse_event

TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
MONDAY = date(2026, 11, 2)
WEEK_END = datetime.combine(MONDAY + timedelta(days=7), time(0), TZ)
REGIONS = ("north", "east", "south", "west")
MODELS = {"X100": Decimal("2800"), "X200": Decimal("4500"), "X300": Decimal("7200")}
SENIOR_APPROVAL_ABOVE = Decimal("200000")
CLERKS = {"north": "clerk-zhao", "east": "clerk-qian", "south": "clerk-sun", "west": "clerk-li"}
RELEASE_WEEKDAYS = (0, 3)  # Monday, Thursday (REL-1)
OUT = Path(__file__).with_name("events.jsonl")

Record = dict[str, Any]


@dataclass
class Week:
    """The events generated so far; drops anything after Sunday midnight."""

    records: list[Record] = field(default_factory=list)

    def add(self, event_id: str, type_: str, at: datetime, source: str, **fields: Any) -> None:
        if at >= WEEK_END:
            return  # beyond the demo week: the order is still under way
        record = {"event_id": event_id, "type": type_, "event_time": at.isoformat()}
        self.records.append({**record, "source": source, **fields})


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=day), time(hour, minute), TZ)


def reference_data(week: Week, rng: random.Random) -> None:
    """Limits, stock, forecasts and plans, published early on Monday."""
    start = at(0, 7)
    for i, model in enumerate(MODELS):
        reasonable = 300 + 100 * i
        week.add(
            f"lim-{model}",
            "inventory.model_limits",
            start,
            "erp",
            model=model,
            reasonable_stock=reasonable,
            upper_limit=reasonable + 150,
        )
        week.add(
            f"stock-{model}-mon",
            "inventory.stock_level",
            start,
            "wms",
            model=model,
            on_hand=rng.randint(120, 260),
        )
    for region in REGIONS:
        week.add(
            f"rlim-{region}",
            "inventory.region_limits",
            start,
            "erp",
            region=region,
            reasonable_stock=rng.choice((180, 220, 260)),
        )
        for model in MODELS:
            weekly = rng.randint(20, 60)
            key = f"{region}-{model}"
            week.add(
                f"fc-{key}",
                "plan.forecast",
                start,
                "erp",
                region=region,
                model=model,
                week_start=MONDAY.isoformat(),
                quantity=weekly,
            )
            week.add(
                f"wp-{key}",
                "plan.weekly",
                start,
                "erp",
                region=region,
                model=model,
                week_start=MONDAY.isoformat(),
                quantity=weekly + rng.randint(-5, 10),
            )
    # November's plans came in October. Two regions hand in December's plan this week,
    # well before the 20th; south and west have not yet (PLAN-1 fires on the 20th).
    for region in ("north", "east"):
        for model in MODELS:
            week.add(
                f"mp-{region}-{model}-2026-12",
                "plan.monthly",
                at(3, 14),
                "erp",
                region=region,
                month="2026-12",
                model=model,
                quantity=rng.randint(90, 200),
            )
    for model in MODELS:  # Thursday's warehouse count
        week.add(
            f"stock-{model}-thu",
            "inventory.stock_level",
            at(3, 18),
            "wms",
            model=model,
            on_hand=rng.randint(80, 220),
        )


def release_time(approved: datetime, scattered: bool) -> datetime:
    """The first release slot (10:00 or 16:00 on a Monday or Thursday) after approval;
    a scattered release goes out the next day instead (REL-1 breach)."""
    if scattered:
        return approved + timedelta(days=1)
    day = approved.date()
    while True:
        if day.weekday() in RELEASE_WEEKDAYS:
            for slot in (time(10), time(16)):
                if (when := datetime.combine(day, slot, TZ)) > approved:
                    return when
        day += timedelta(days=1)


@dataclass(frozen=True)
class Breach:
    """Which SLA a demo order breaks (none for most)."""

    late_entry: bool = False  # SLA-1
    slow_review: bool = False  # SLA-3
    slow_shipping: bool = False  # SLA-9
    scattered_release: bool = False  # REL-1


def order_lifecycle(
    week: Week, rng: random.Random, n: int, received: datetime, breach: Breach
) -> None:
    region, model = rng.choice(REGIONS), rng.choice(list(MODELS))
    oid = f"SO-2611-{n:03d}"
    qty = rng.randint(5, 40)
    amount = str(MODELS[model] * qty)
    keys = {"order_id": oid, "region": region, "model": model}
    promised = (received + timedelta(days=rng.randint(6, 10))).date().isoformat()

    def ev(step: str, when: datetime, source: str = "erp", **fields: Any) -> None:
        week.add(f"{oid}-{step}", f"order.{step}", when, source, **keys, **fields)

    channel = rng.choice(("phone", "fax", "email", "web", "dealer_visit", "trade_fair"))
    ev(
        "received",
        received,
        "crm",
        channel=channel,
        quantity=qty,
        amount=amount,
        promised_date=promised,
    )
    entered = received + timedelta(minutes=150 if breach.late_entry else rng.randint(15, 50))
    ev(
        "entered",
        entered,
        quantity=qty,
        amount=amount,
        promised_date=promised,
        priority=rng.choice(("normal", "normal", "high")),
    )
    confirmed = entered + timedelta(minutes=rng.randint(40, 160))
    ev("confirmed", confirmed, quantity=qty, amount=amount, promised_date=promised)
    submitted = confirmed + timedelta(minutes=10)
    ev("submitted", submitted)
    approved = submitted + timedelta(minutes=250 if breach.slow_review else rng.randint(30, 100))
    senior = Decimal(amount) > SENIOR_APPROVAL_ABOVE
    ev(
        "approved",
        approved,
        approver="mgr-wang" if not senior else "vp-chen",
        level="senior" if senior else "standard",
    )
    released = release_time(approved, breach.scattered_release)
    ev("released", released, quantity=qty, clerk=CLERKS[region])
    scheduled = released + timedelta(minutes=rng.randint(20, 50))
    ev("scheduled", scheduled)
    plan_approved = scheduled + timedelta(minutes=rng.randint(60, 170))
    ev("plan_approved", plan_approved, "mes")
    produced = plan_approved + timedelta(days=rng.randint(1, 2), hours=rng.randint(1, 4))
    for day in range(1, (produced - plan_approved).days + 1):
        ev(
            f"progress-{day}",
            plan_approved + timedelta(days=day),
            "mes",
            percent_done=str(min(95, 50 * day)),
        )
    ev("produced", produced, "mes")
    inspected = produced + timedelta(minutes=rng.randint(20, 55))
    ev("inspected", inspected, "qms", passed=True)
    packed = inspected + timedelta(minutes=rng.randint(30, 110))
    ev("packed", packed, "wms")
    shipped = packed + timedelta(minutes=300 if breach.slow_shipping else rng.randint(40, 170))
    ev("shipped", shipped, "wms", quantity=qty)
    week.add(
        f"{oid}-dispatch",
        "shipment.dispatched",
        shipped,
        "tms",
        shipment_id=f"SH-{oid}",
        **keys,
        quantity=qty,
        carrier=rng.choice(("SF", "JD", "Deppon")),
        eta=(shipped + timedelta(days=2)).isoformat(),
    )
    ev("customer_notified", shipped + timedelta(hours=rng.randint(1, 6)), "crm")
    delivered = shipped + timedelta(days=rng.randint(1, 3))
    ev("delivered", delivered, "tms", quantity=qty)


def special_order(
    week: Week,
    n: int,
    region: str,
    model: str,
    qty: int,
    received: datetime,
    picked_up_after: timedelta | None,
) -> None:
    """A special order: both sign-offs, a 30 % deposit, into stock, picked up (or not)."""
    oid = f"SP-2611-{n:03d}"
    amount = MODELS[model] * qty
    keys = {"order_id": oid, "region": region, "model": model}

    def ev(step: str, when: datetime, source: str = "erp", **fields: Any) -> None:
        week.add(f"{oid}-{step}", f"order.{step}", when, source, **keys, **fields)

    money: dict[str, Any] = {"quantity": qty, "amount": str(amount), "special": True}
    ev("received", received, "crm", channel="dealer_visit", **money)
    ev("entered", received + timedelta(minutes=30), **money)
    ev("confirmed", received + timedelta(hours=2), **money)
    for i, role in enumerate(("sales_manager", "vice_president")):
        ev(
            f"signed_off-{role}",
            received + timedelta(hours=3 + i),
            role=role,
            signer="mgr-wang" if i == 0 else "vp-chen",
            document="order",
        )
    ev(
        "deposit_paid",
        received + timedelta(hours=6),
        "finance",
        amount=str((amount * Decimal("0.30")).quantize(Decimal("0.01"))),
    )
    stocked = received + timedelta(days=1, hours=4)
    week.add(f"{oid}-stocked", "inventory.stocked", stocked, "wms", **keys, quantity=qty)
    if picked_up_after is not None:
        ev("picked_up", stocked + picked_up_after, "wms")


def fix_types(records: list[Record]) -> list[Record]:
    """Step names carry a suffix to keep event ids unique; the type is the bare step."""
    for record in records:
        head, _, _ = record["type"].partition("-")
        record["type"] = head
    return records


MALFORMED = [
    b'{"event_id": "bad-1", "type": "order.received", "event_time": ',  # truncated JSON
    json.dumps(
        {
            "event_id": "bad-2",
            "type": "order.confirmed",
            "event_time": "2026-11-04T11:00:00+08:00",
            "source": "erp",
            "order_id": "SO-2611-999",
            "region": "south",
            "model": "X200",
            "quantity": -4,
            "amount": "0",
        }
    ).encode(),  # negative quantity
    json.dumps(
        {
            "event_id": "bad-3",
            "type": "order.teleported",
            "event_time": "2026-11-05T09:00:00+08:00",
            "source": "erp",
            "order_id": "SO-2611-998",
            "region": "west",
            "model": "X100",
        }
    ).encode(),
]


def generate(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    week = Week()
    reference_data(week, rng)
    breaches = {
        3: Breach(late_entry=True),
        7: Breach(slow_review=True),
        11: Breach(slow_shipping=True),
        5: Breach(scattered_release=True),
        14: Breach(scattered_release=True),
    }
    for n in range(1, 25):
        day = rng.choice((0, 0, 1, 2, 3, 3, 4)) if n > 2 else 0
        received = at(day, rng.randint(8, 15), rng.choice((0, 15, 30, 45)))
        order_lifecycle(week, rng, n, received, breaches.get(n, Breach()))
    special_order(week, 1, "east", "X300", 8, at(0, 9, 30), timedelta(days=3))
    special_order(week, 2, "west", "X200", 12, at(1, 10), None)
    records = sorted(fix_types(week.records), key=lambda r: (r["event_time"], r["event_id"]))
    for record in records:
        parse_event(record)  # every generated line must be valid; fail loudly if not
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    for i, bad in enumerate(MALFORMED):  # spread through the stream
        lines.insert((i + 1) * len(lines) // (len(MALFORMED) + 1), bad)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lines = generate(args.seed)
    args.out.write_bytes(b"".join(line + b"\n" for line in lines))
    print(f"wrote {len(lines)} lines to {args.out}")


if __name__ == "__main__":
    main()
