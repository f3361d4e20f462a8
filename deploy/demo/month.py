"""Write ``deploy/demo/month.jsonl``: October 2026 for the assessment (考核), seeded.

Four regions and three models. Every working day of the month (the National Day week,
1–7 October, has none; Saturday 10 October is a 调休 working day) each region has an
approved daily shipping plan line per model (周需求日发货计划) and ships against it: most
lines in full on the day, some short (east's X300 every Friday, 60 %), some a day late
(south's X200 on Mondays). Orders go through entry and confirmation (SLA-1, SLA-2), a few
late; north and west confirm some late. Monthly plans for November: north, east and south
before the 20th at 15:00, west on the 22nd (PLAN-1: fined 100 CNY). East's special order
SP-2610-101 is put into stock on 9 October and never picked up: DEP-2 fines the region
manager 200 CNY on the 24th. The month ends with a stock count on 31 October at 20:00,
so every deadline of the month has passed when a replay stops.

    python -m deploy.demo.month [--seed 2610] [--out deploy/demo/month.jsonl]
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


class Month:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.count = 0

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


def master_data(m: Month) -> None:
    start = at(date(2026, 9, 30), "08:00")
    for region in REGIONS:
        m.add("inventory.region_limits", start, region=region, reasonable_stock=2000)
    for model in MODELS:
        m.add("inventory.model_limits", start, model=model, reasonable_stock=800, upper_limit=9000)
        m.add("inventory.stock_level", start, model=model, on_hand=9000)


def plans_and_shipments(m: Month, working: list[date]) -> None:
    for day in working:
        monday = day - timedelta(days=day.weekday())
        for region in REGIONS:
            for model in MODELS:
                qty = m.rng.randrange(10, 41, 5)
                m.add(
                    "plan.daily",
                    at(monday - timedelta(days=3), "10:00"),
                    region=region,
                    model=model,
                    week_start=monday.isoformat(),
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
                m.add(
                    "shipment.dispatched",
                    when,
                    shipment_id=f"SH-{day:%m%d}-{region}-{model}",
                    order_id=f"SO-{day:%m%d}-{region[0]}{model}",
                    region=region,
                    model=model,
                    quantity=shipped,
                    carrier="SF",
                )


def orders(m: Month, working: list[date]) -> None:
    for n, day in enumerate(working):
        for region in REGIONS:
            key = {"order_id": f"SO-2610-{n:02d}{region[0]}", "region": region, "model": "X100"}
            late = region in ("north", "west") and n % 4 == 0
            m.add(
                "order.received",
                at(day, "09:00"),
                **key,
                channel="phone",
                quantity=5,
                amount="5000",
            )
            m.add(
                "order.entered",
                at(day, "11:30" if late else "09:30"),
                **key,
                quantity=5,
                amount="5000",
            )
            m.add("order.confirmed", at(day, "11:45"), **key, quantity=5, amount="5000")


def monthly_plans(m: Month) -> None:
    submitted = {
        "north": "2026-10-16T10:00",
        "east": "2026-10-19T16:00",
        "south": "2026-10-20T14:30",
        "west": "2026-10-22T09:00",
    }
    for region, when in submitted.items():
        for model in MODELS:
            m.add(
                "plan.monthly",
                datetime.fromisoformat(when).replace(tzinfo=TZ),
                region=region,
                month="2026-11",
                model=model,
                quantity=600,
            )


def late_pickup(m: Month) -> None:
    key = {"order_id": "SP-2610-101", "region": "east", "model": "X300"}
    day = date(2026, 10, 8)
    m.add("order.received", at(day, "10:00"), **key, quantity=20, amount="80000", special=True)
    m.add("order.entered", at(day, "10:20"), **key, quantity=20, amount="80000", special=True)
    m.add("order.confirmed", at(day, "11:00"), **key, quantity=20, amount="80000", special=True)
    m.add("inventory.stocked", at(date(2026, 10, 9), "09:00"), **key, quantity=20)


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


def build(seed: int) -> list[dict[str, Any]]:
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(31)]
    working = working_days(days)
    m = Month(seed)
    master_data(m)
    plans_and_shipments(m, working)
    orders(m, working)
    monthly_plans(m)
    late_pickup(m)
    for model in MODELS:
        m.add("inventory.stock_level", at(date(2026, 10, 31), "20:00"), model=model, on_hand=8000)
    return sorted(m.events, key=lambda e: e["event_time"])  # stable: same-time order kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2610)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    lines = [json.dumps(e, ensure_ascii=False) for e in build(args.seed)]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(lines)} events")


if __name__ == "__main__":
    main()
