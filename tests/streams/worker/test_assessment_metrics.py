"""The per-region assessment gauges on the worker's /metrics, from a small facts table and
ledger whose figures are computed by hand below.

October 2026, business zone Asia/Shanghai (UTC+8). Approved daily shipping plan lines and
what was shipped:

    north  Thu 8 Oct  X100 plan 10, shipped 10            on time
    north  Fri 9 Oct  X100 plan 10, shipped  6 (short)    late
           -> on-time 1/2 = 0.5; planned 20, fulfilled 10 + 6 = 16 -> 0.8
    north  Fri 16 Oct X100 plan  8, not approved          not counted
    south  Mon 12 Oct X200 plan  5, shipped  5            on time -> 1.0 and 1.0

Ledger: north PLAN-1 (100 CNY) and SLA-2 (no fine): 2 breaches, 100 CNY; south DEP-2
(200 CNY) and a DEP-2 an analyst voided (200 CNY, not counted): 1 breach, 200 CNY; east
REL-2 (50 CNY): 1 breach, 50 CNY, and no plan, so no ratios; a September entry of north
is another month's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from contract.assessment import LedgerEntry
from dsl.calendar import load_calendar
from streams.core.assessment.facts import DayFacts, Facts, PlanLine, Shipment
from streams.core.assessment.kpis import AssessmentRules
from streams.worker.metrics import AssessmentCollector

REPO = Path(__file__).resolve().parents[3]
RULES = AssessmentRules(calendar=load_calendar(REPO / "rules/calendars/cn-mainland-2026.yaml"))
PLANNED = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)


def line(model: str, quantity: int, approved: bool = True) -> dict[str, PlanLine]:
    return {model: PlanLine(model, quantity, approved, PLANNED, f"p-{model}-{quantity}")}


def shipped(ident: str, model: str, quantity: int, day: int) -> dict[str, Shipment]:
    at = datetime(2026, 10, day, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai, the same day
    return {ident: Shipment(ident, f"SO-{ident}", model, quantity, at, f"e-{ident}")}


def facts() -> Facts:
    return {
        ("north", date(2026, 10, 8)): DayFacts(
            plan=line("X100", 10), shipped=shipped("SH-1", "X100", 10, 8)
        ),
        ("north", date(2026, 10, 9)): DayFacts(
            plan=line("X100", 10), shipped=shipped("SH-2", "X100", 6, 9)
        ),
        ("north", date(2026, 10, 16)): DayFacts(plan=line("X100", 8, approved=False)),
        ("south", date(2026, 10, 12)): DayFacts(
            plan=line("X200", 5), shipped=shipped("SH-3", "X200", 5, 12)
        ),
    }


def entry(
    n: int, rule: str, region: str, amount: int, day: date, voided: bool = False
) -> LedgerEntry:
    return LedgerEntry(
        entry_id=f"L{n}",
        rule_id=rule,
        severity="warning",
        key={"region": region},
        region=region,
        amount=Decimal(amount),
        at=datetime.combine(day, time(2, 0), tzinfo=UTC),  # 10:00 in Shanghai
        fingerprint=f"f{n}",
        voided=voided,
    )


ENTRIES = [
    entry(1, "PLAN-1", "north", 100, date(2026, 10, 20)),
    entry(2, "SLA-2", "north", 0, date(2026, 10, 9)),
    entry(3, "DEP-2", "south", 200, date(2026, 10, 27)),
    entry(4, "DEP-2", "south", 200, date(2026, 10, 28), voided=True),
    entry(5, "REL-2", "east", 50, date(2026, 10, 15)),
    entry(6, "REL-2", "north", 50, date(2026, 9, 14)),
]


def scrape(now: datetime | None, active: bool = True) -> set[str]:
    registry = CollectorRegistry()
    registry.register(
        AssessmentCollector(lambda: facts(), lambda: ENTRIES, RULES, lambda: now, lambda: active)
    )
    text = generate_latest(registry).decode()
    return {x for x in text.splitlines() if x.startswith("orderhub_assessment_")}


def test_gauges_per_region_are_the_months_figures() -> None:
    # 23:00 on 31 October in Shanghai: still October.
    got = scrape(datetime(2026, 10, 31, 15, 0, tzinfo=UTC))
    m = 'month="2026-10"'
    assert got == {
        f'orderhub_assessment_daily_plan_on_time_ratio{{{m},region="north"}} 0.5',
        f'orderhub_assessment_daily_plan_on_time_ratio{{{m},region="south"}} 1.0',
        f'orderhub_assessment_demand_fulfilment_ratio{{{m},region="north"}} 0.8',
        f'orderhub_assessment_demand_fulfilment_ratio{{{m},region="south"}} 1.0',
        f'orderhub_assessment_breaches{{{m},region="east"}} 1.0',
        f'orderhub_assessment_breaches{{{m},region="north"}} 2.0',
        f'orderhub_assessment_breaches{{{m},region="south"}} 1.0',
        f'orderhub_assessment_fines_cny{{{m},region="east"}} 50.0',
        f'orderhub_assessment_fines_cny{{{m},region="north"}} 100.0',
        f'orderhub_assessment_fines_cny{{{m},region="south"}} 200.0',
    }


def test_the_month_is_the_watermarks_in_the_business_zone() -> None:
    # 16:30 UTC on 31 October is 00:30 on 1 November in Shanghai: a month with no figures.
    assert scrape(datetime(2026, 10, 31, 16, 30, tzinfo=UTC)) == set()
    september = scrape(datetime(2026, 9, 30, 12, 0, tzinfo=UTC))
    assert september == {
        'orderhub_assessment_breaches{month="2026-09",region="north"} 1.0',
        'orderhub_assessment_fines_cny{month="2026-09",region="north"} 50.0',
    }


def test_nothing_before_the_first_event_nor_on_a_standby() -> None:
    assert scrape(None) == set()
    assert scrape(datetime(2026, 10, 31, 15, 0, tzinfo=UTC), active=False) == set()
