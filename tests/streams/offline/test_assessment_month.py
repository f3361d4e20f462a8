"""The assessment of a small hand-written month, October 2026, computed by hand.

Calendar (rules/calendars/cn-mainland-2026.yaml): 1–7 October is the National Day holiday
(国庆节); Saturday 10 October is a working day (调休). Working days in October: 22 weekdays
− 5 holiday weekdays (1, 2, 5, 6, 7) + Saturday the 10th = 18. ISO weeks cut to the month:
W40 = 1–4 Oct (0 working days: the holiday week), W41 = 5–11 Oct (8, 9, 10: 3 working days),
W42 = 12–18, W43 = 19–25, W44 = 26–31 (5, 5, 5 working days).

Region north, model X100, approved daily shipping plan (周需求日发货计划) and shipments:

    day        plan  shipped that day           line on time?
    Thu 8 Oct   10   10                          yes
    Fri 9 Oct   10    6 (short shipment)         no
    Sat 10 Oct   5    5 (调休 working Saturday)  yes
    Mon 12 Oct  20    0 — 20 go on Tue 13 (late) no
    Tue 13 Oct   —   20

    W41: 3 lines, 2 on time = 66.7 %; planned 25, shipped 21, fulfilled 21 = 84.0 %
    W42: 1 line, 0 on time = 0.0 %;  planned 20, shipped 20, fulfilled 20 = 100.0 %
    October: 4 lines, 2 on time = 50.0 %; planned 45, shipped 41, fulfilled 41 = 91.1 %
    A line for Fri 16 Oct of 8 that nobody approved does not count.

SLA: north's order SO-N1 is received Thu 8 Oct 09:00, entered 09:30 (SLA-1 met), confirmed
Fri 9 Oct 10:00 — SLA-2 allows 3 business hours, due 8 Oct 13:30: missed. So SLA-1 1 order,
0 missed, 100 %; SLA-2 1 order, 1 missed, 0 %. South's special order SP-S1 (received Fri
9 Oct 09:00, entered 09:20, confirmed 10:00) meets SLA-1 and SLA-2: 100 % each.

Monthly plan (PLAN-1, due 20 Oct 15:00 for November): south submits on Mon 19 Oct (on time);
north on Wed 21 Oct 10:00 (late): PLAN-1 fines the region 100 CNY at the deadline and
PLAN-1-LATE notes the late plan (no fine).

Late pick-up (DEP-2): SP-S1 is put into stock (入库) on Mon 12 Oct 09:00 and never picked up:
the 7-day tier (19 Oct 09:00, a warning, no fine) and the 15-day tier (27 Oct 09:00: the
region manager fined 200 CNY) are two breaches.

Ledger: north — SLA-2, PLAN-1 (100 CNY to "region"), PLAN-1-LATE: 3 breaches, 1 fined,
100 CNY; south — DEP-2 twice (200 CNY to "region manager"): 2 breaches, 1 fined, 200 CNY.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streams.core.assessment.kpis import Assessment, PeriodKpis
from streams.offline.assessment import replay_assessment

ROOT = Path(__file__).parents[3]
RULES = ROOT / "rules"


def _t(day: int, clock: str, month: int = 10) -> str:
    return f"2026-{month:02d}-{day:02d}T{clock}:00+08:00"


def month_events() -> list[dict[str, Any]]:
    n = iter(range(1, 1000))
    events: list[dict[str, Any]] = []

    def add(type_: str, time: str, **fields: Any) -> None:
        events.append(
            {
                "event_id": f"e{next(n)}",
                "type": type_,
                "event_time": time,
                "source": "test",
                **fields,
            }
        )

    for region in ("north", "south"):
        add("inventory.region_limits", _t(30, "08:00", 9), region=region, reasonable_stock=1000)
    add(
        "inventory.model_limits",
        _t(30, "08:00", 9),
        model="X100",
        reasonable_stock=500,
        upper_limit=5000,
    )
    add("inventory.stock_level", _t(30, "08:00", 9), model="X100", on_hand=5000)
    plan = {8: 10, 9: 10, 10: 5, 12: 20}
    for day, qty in plan.items():
        add(
            "plan.daily",
            _t(5, "09:00"),
            region="north",
            model="X100",
            week_start=str(date(2026, 10, day) - timedelta(days=date(2026, 10, day).weekday())),
            day=f"2026-10-{day:02d}",
            quantity=qty,
            compiled_by="li",
            reviewed_by="wang",
            approved_by="zhao",
        )
    add(
        "plan.daily",
        _t(5, "09:00"),
        region="north",
        model="X100",
        week_start="2026-10-12",
        day="2026-10-16",
        quantity=8,
        compiled_by="li",
    )
    order = {"order_id": "SO-N1", "region": "north", "model": "X100"}
    add("order.received", _t(8, "09:00"), **order, quantity=10, amount="1000")
    add("order.entered", _t(8, "09:30"), **order, quantity=10, amount="1000")
    for ship, (day, qty) in enumerate([(8, 10), (9, 6), (10, 5), (13, 20)], start=1):
        add(
            "shipment.dispatched",
            _t(day, "16:00"),
            shipment_id=f"SH-{ship}",
            order_id=f"SO-P{ship}",
            region="north",
            model="X100",
            quantity=qty,
        )
    special = {"order_id": "SP-S1", "region": "south", "model": "X100"}
    add("order.received", _t(9, "09:00"), **special, quantity=5, amount="20000", special=True)
    add("order.entered", _t(9, "09:20"), **special, quantity=5, amount="20000", special=True)
    add("order.confirmed", _t(9, "10:00"), **order, quantity=10, amount="1000")
    add("order.confirmed", _t(9, "10:00"), **special, quantity=5, amount="20000", special=True)
    add("inventory.stocked", _t(12, "09:00"), **special, quantity=5)
    add(
        "plan.monthly", _t(19, "11:00"), region="south", month="2026-11", model="X100", quantity=100
    )
    add(
        "plan.monthly", _t(21, "10:00"), region="north", month="2026-11", model="X100", quantity=120
    )
    add("inventory.stock_level", _t(31, "12:00"), model="X100", on_hand=4000)
    events.sort(key=lambda e: e["event_time"])
    return events


def write_month(path: Path) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in month_events()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory) -> Assessment:
    path = write_month(tmp_path_factory.mktemp("month") / "october.jsonl")
    assessment, offline = replay_assessment(path, RULES, "2026-10")
    assert offline.skipped == []
    return assessment


def _period(a: Assessment, region: str, kind: str, start: str) -> PeriodKpis:
    found = [
        p for p in a.periods if (p.region, p.period, p.start.isoformat()) == (region, kind, start)
    ]
    assert len(found) == 1
    return found[0]


def test_working_days_follow_the_calendar(october: Assessment) -> None:
    assert october.working_days == 18
    weeks = [p for p in october.periods if p.region == "north" and p.period == "week"]
    assert [(p.start.day, p.end.day, p.working_days) for p in weeks] == [
        (1, 4, 0),
        (5, 11, 3),
        (12, 18, 5),
        (19, 25, 5),
        (26, 31, 5),
    ]
    assert _period(october, "north", "day", "2026-10-10").working_days == 1  # 调休 Saturday
    assert _period(october, "north", "day", "2026-10-06").working_days == 0  # National Day


def test_on_time_rate_and_fulfilment_by_week_and_month(october: Assessment) -> None:
    w41 = _period(october, "north", "week", "2026-10-05")
    assert (w41.plan_lines, w41.lines_on_time, w41.on_time_rate) == (3, 2, 0.6667)
    assert (w41.planned, w41.shipped, w41.fulfilled, w41.fulfilment) == (25, 21, 21, 0.84)
    w42 = _period(october, "north", "week", "2026-10-12")
    assert (w42.plan_lines, w42.lines_on_time, w42.on_time_rate) == (1, 0, 0.0)
    assert (w42.planned, w42.shipped, w42.fulfilment) == (20, 20, 1.0)
    month = _period(october, "north", "month", "2026-10-01")
    assert (month.plan_lines, month.lines_on_time, month.on_time_rate) == (4, 2, 0.5)
    assert (month.planned, month.shipped, month.fulfilled, month.fulfilment) == (45, 41, 41, 0.9111)
    short = _period(october, "north", "day", "2026-10-09")
    assert (short.planned, short.shipped, short.lines_on_time) == (10, 6, 0)


def test_sla_compliance_per_step(october: Assessment) -> None:
    got = {(s.region, s.rule_id): (s.started, s.missed, s.compliance) for s in october.sla}
    assert got[("north", "SLA-1")] == (1, 0, 1.0)
    assert got[("north", "SLA-2")] == (1, 1, 0.0)
    assert got[("south", "SLA-1")] == (1, 0, 1.0)
    assert got[("south", "SLA-2")] == (1, 0, 1.0)
    assert got[("north", "SLA-3")] == (0, 0, None)


def test_monthly_plan_on_time(october: Assessment) -> None:
    got = {p.region: (p.plan_month, p.submitted, p.on_time) for p in october.plans}
    assert got["north"] == ("2026-11", datetime.fromisoformat(_t(21, "10:00")), False)
    assert got["south"] == ("2026-11", datetime.fromisoformat(_t(19, "11:00")), True)


def test_breaches_and_fines(october: Assessment) -> None:
    assert [(b.region, b.rule_id, b.breaches, b.fines) for b in october.breaches] == [
        ("north", "PLAN-1", 1, Decimal("100")),
        ("north", "PLAN-1-LATE", 1, Decimal(0)),
        ("north", "SLA-2", 1, Decimal(0)),
        ("south", "DEP-2", 2, Decimal("200")),
    ]
    assert [(f.who, f.region, f.entries, f.amount) for f in october.person_fines] == [
        ("region", "north", 1, Decimal("100")),
        ("region manager", "south", 1, Decimal("200")),
    ]
    assert [(r.region, r.breaches, r.fined, r.amount) for r in october.region_fines] == [
        ("north", 3, 1, Decimal("100")),
        ("south", 2, 1, Decimal("200")),
    ]


def test_a_voided_entry_no_longer_counts(tmp_path: Path) -> None:
    path = write_month(tmp_path / "october.jsonl")
    _, offline = replay_assessment(path, RULES, "2026-10")
    plan1 = next(e for e in offline.ledger.entries.values() if e.rule_id == "PLAN-1")
    void = {
        "event_id": "v1",
        "type": "assessment.void",
        "event_time": _t(31, "13:00"),
        "source": "analyst",
        "entry_id": plan1.entry_id,
        "by": "chen",
        "reason": "plan e-mailed on the 19th; the upload failed",
    }
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(void) + "\n")
    a, _ = replay_assessment(path, RULES, "2026-10", region="north")
    assert a.voided == 1
    assert [(r.region, r.breaches, r.amount) for r in a.region_fines] == [("north", 2, Decimal(0))]
    # The analyst says the plan was in time: the void excuses the late submission.
    assert [p.on_time for p in a.plans] == [True]
