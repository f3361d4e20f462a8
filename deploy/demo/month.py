"""Write ``deploy/demo/month.jsonl``: a month for the assessment (考核), seeded; by default
September 2026, the month before the demo week (``make run`` publishes it first, so every
deadline of the month lies behind the worker's clock before the week's events come).

Four regions and three models. Every working day of the month (from the calendar file:
in September 2026 the Mid-Autumn holiday 中秋节 takes Friday 25 September, and Sunday 20
September is a 调休 working day) each region has an approved daily shipping plan line per
model (周需求日发货计划) and ships against it: most lines in full on the day, some short
(east's X300 every Friday, 60 %), some a day late (south's X200 on Mondays). Orders go
through entry and confirmation (SLA-1, SLA-2), a few late; north and west confirm some
late. Monthly plans for the next month: north, east and south before the 20th at 15:00
(PLAN-1's deadline), west on the 22nd (PLAN-1: fined 100 CNY). East's special order is
ordered on the first working day from the 8th, put into stock the next working day and
never picked up: DEP-2 fines the region manager 200 CNY 15 days later. The month ends with
a stock count on its last day at 20:00, so every deadline of the month has passed when a
replay stops.

Nothing of the month is left for what follows it (tests/deploy/test_demo_month.py): each
order is the day's X100 shipment and is delivered that evening, the special order is
cancelled on the last working day, and every region sends the plan for the month after
next on that day too, so the demo week judges the same alerts as on its own.

    python -m deploy.demo.month [--month 2026-09] [--seed 2609] [--out deploy/demo/month.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from contract.events import parse_event

TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
REGIONS = ("north", "east", "south", "west")
MODELS = ("X100", "X200", "X300")
CALENDAR = Path(__file__).parents[2] / "rules" / "calendars" / "cn-mainland-2026.yaml"
OUT = Path(__file__).with_name("month.jsonl")
MONTH = "2026-09"
# When each region sends its plan for the next month (day of the month, clock): PLAN-1's
# deadline is the 20th at 15:00, so west's is late.
MONTHLY_PLANS = {
    "north": (16, "10:00"),
    "east": (18, "16:00"),
    "south": (20, "14:30"),
    "west": (22, "09:00"),
}


class Month:
    def __init__(self, first: date, seed: int) -> None:
        self.first = first
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.count = 0

    @property
    def tag(self) -> str:
        """``2609`` for September 2026: in order numbers."""
        return f"{self.first:%y%m}"

    def add(self, type_: str, when: datetime, **fields: Any) -> None:
        self.count += 1
        record = {
            "event_id": f"m-{self.count:05d}",
            "type": type_,
            "event_time": when.isoformat(),
            "source": "erp",
            **fields,
        }
        parse_event(record)  # the demo writes only valid events
        self.events.append(record)


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), TZ)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def next_month(first: date) -> date:
    return (first + timedelta(days=31)).replace(day=1)


def master_data(m: Month) -> None:
    # Before the first week's plan lines, which come the Friday before its Monday.
    start = at(monday(m.first) - timedelta(days=4), "08:00")
    for region in REGIONS:
        m.add("inventory.region_limits", start, region=region, reasonable_stock=2000)
    for model in MODELS:
        m.add("inventory.model_limits", start, model=model, reasonable_stock=800, upper_limit=9000)
        m.add("inventory.stock_level", start, model=model, on_hand=9000)


def order_id(m: Month, n: int, region: str) -> str:
    """The region's order on the month's ``n``-th working day."""
    return f"SO-{m.tag}-{n:02d}{region[0]}"


def plans_and_shipments(m: Month, working: list[date]) -> dict[tuple[int, str], int]:
    """Plan lines and shipments; returns the X100 quantity per (working day, region): the
    region's order of the day, which the X100 shipment carries."""
    ordered: dict[tuple[int, str], int] = {}
    for n, day in enumerate(working):
        week = monday(day)
        for region in REGIONS:
            for model in MODELS:
                qty = m.rng.randrange(10, 41, 5)
                m.add(
                    "plan.daily",
                    at(week - timedelta(days=3), "10:00"),
                    region=region,
                    model=model,
                    week_start=week.isoformat(),
                    day=day.isoformat(),
                    quantity=qty,
                    compiled_by=f"{region}-planner",
                    reviewed_by="sales-manager",
                    approved_by="sales-director",
                )
                shipped, when = qty, at(day, "15:00")
                if region == "east" and model == "X300" and day.weekday() == 4:
                    shipped = qty * 6 // 10  # short on Fridays
                if region == "south" and model == "X200" and day.weekday() == 0:
                    when = at(day + timedelta(days=1), "10:00")  # a day late
                order = f"SO-{day:%m%d}-{region[0]}{model}"
                if model == "X100":
                    order = order_id(m, n, region)
                    ordered[(n, region)] = qty
                m.add(
                    "shipment.dispatched",
                    when,
                    shipment_id=f"SH-{day:%m%d}-{region}-{model}",
                    order_id=order,
                    region=region,
                    model=model,
                    quantity=shipped,
                    carrier="SF",
                )
    return ordered


def orders(m: Month, working: list[date], ordered: dict[tuple[int, str], int]) -> None:
    """Each region's X100 order of the day, delivered the same evening: nothing of the month
    stays in transit for the week that follows it in ``make run``."""
    for n, day in enumerate(working):
        for region in REGIONS:
            qty = ordered[(n, region)]
            key = {"order_id": order_id(m, n, region), "region": region, "model": "X100"}
            money = {"quantity": qty, "amount": str(qty * 1000)}
            late = region in ("north", "west") and n % 4 == 0
            m.add("order.received", at(day, "09:00"), **key, channel="phone", **money)
            m.add("order.entered", at(day, "11:30" if late else "09:30"), **key, **money)
            m.add("order.confirmed", at(day, "11:45"), **key, **money)
            m.add("order.delivered", at(day, "17:00"), **key, quantity=qty)


def monthly_plans(m: Month, working: list[date]) -> None:
    """Next month's plans around PLAN-1's deadline; and, on the month's last working day,
    every region's plan for the month after (before the National Day holiday, in
    September), so that the week after this month in ``make run`` misses no deadline."""
    following = next_month(m.first)
    sent = [
        (following, at(m.first.replace(day=day), clock), region)
        for region, (day, clock) in MONTHLY_PLANS.items()
    ]
    sent += [(next_month(following), at(working[-1], "16:00"), region) for region in REGIONS]
    for plan_month, when, region in sent:
        for model in MODELS:
            m.add(
                "plan.monthly",
                when,
                region=region,
                month=f"{plan_month:%Y-%m}",
                model=model,
                quantity=600,
            )


def late_pickup(m: Month, working: list[date]) -> None:
    """East's special order: ordered on the first working day from the 8th, put into stock
    the next working day, never picked up (the 15-day tier still falls inside the month)."""
    ordered = next(d for d in working if d.day >= 8)
    stocked = working[working.index(ordered) + 1]
    key = {"order_id": f"SP-{m.tag}-101", "region": "east", "model": "X300"}
    m.add("order.received", at(ordered, "10:00"), **key, quantity=20, amount="80000", special=True)
    m.add("order.entered", at(ordered, "10:20"), **key, quantity=20, amount="80000", special=True)
    m.add("order.confirmed", at(ordered, "11:00"), **key, quantity=20, amount="80000", special=True)
    m.add("inventory.stocked", at(stocked, "09:00"), **key, quantity=20)
    # The deposit is forfeited; sales cancels the order on the month's last evening, so that
    # its 20 units do not stay in transit into the next month.
    m.add("order.cancelled", at(working[-1], "18:00"), **key, reason="never picked up")


def working_days(days: list[date]) -> list[date]:
    """The calendar file's working days (deploy sits beside dsl, so it reads the file
    itself): Mon–Fri but the holidays, and the 调休 weekend days."""
    data = yaml.safe_load(CALENDAR.read_text(encoding="utf-8"))
    off = {
        span["from"] + timedelta(days=n)
        for span in data["holidays"]
        for n in range((span["to"] - span["from"]).days + 1)
    }
    extra = set(data["workdays"])
    return [d for d in days if d in extra or (d.weekday() < 5 and d not in off)]


def build(seed: int, month: str = MONTH) -> list[dict[str, Any]]:
    """The month ``YYYY-MM``'s events, sorted by event time."""
    first = date.fromisoformat(f"{month}-01")
    last = next_month(first) - timedelta(days=1)
    working = working_days([first + timedelta(days=n) for n in range(last.day)])
    m = Month(first, seed)
    master_data(m)
    ordered = plans_and_shipments(m, working)
    orders(m, working, ordered)
    monthly_plans(m, working)
    late_pickup(m, working)
    for model in MODELS:
        m.add("inventory.stock_level", at(last, "20:00"), model=model, on_hand=8000)
    return sorted(m.events, key=lambda e: e["event_time"])  # stable: same-time order kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default=MONTH, help="YYYY-MM (default %(default)s)")
    parser.add_argument("--seed", type=int, default=2609)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lines = [json.dumps(e, ensure_ascii=False) for e in build(args.seed, args.month)]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(lines)} events")


if __name__ == "__main__":
    main()
