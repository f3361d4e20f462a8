"""The demo month (September 2026) and ``make run``'s order: the month, then the week.

``make run`` publishes ``deploy/demo/month.jsonl`` before ``deploy/demo/events.jsonl``, so
that a live worker passes every deadline of the month, in event time, before the week's
events come (the other way round, the month's deadlines lay behind the week's watermark and
its live PLAN-1 and SLA results depended on timing). These tests replay both files as
``make run`` sends them: the month's assessment is the month's alone, and the week judges
the same alerts and shows the same in-transit tables as the week alone — the month leaves
nothing in transit, and the plans due after it are in.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from contract.events import Alert, parse_event
from deploy.demo.month import build
from streams.core.state import apply_event, empty_tables
from streams.offline.assessment import replay_assessment
from streams.offline.replay import load_engine, run
from tests.streams.offline.event_lines import read_events

ROOT = Path(__file__).parents[2]
MONTH = ROOT / "deploy" / "demo" / "month.jsonl"
WEEK = ROOT / "deploy" / "demo" / "events.jsonl"
RULES = ROOT / "rules"
IN_TRANSIT = ("in_transit_region", "in_transit_model", "in_transit_region_model")


def _alerts(*files: Path) -> list[Alert]:
    text = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    return run(load_engine(RULES), read_events(text, lambda line, reason: None), None).alerts


def _in_transit(*files: Path) -> dict[str, dict[str, int]]:
    tables = empty_tables()
    seq = 0
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            seq += 1
            try:
                event = parse_event(json.loads(line))
            except ValueError:
                continue  # the week's three malformed lines
            apply_event(tables, event, seq)
    return {
        name: {key: int(entry["qty"]) for key, entry in tables[name].items() if entry["qty"]}
        for name in IN_TRANSIT
    }


def test_the_committed_month_is_the_generators_september() -> None:
    lines = MONTH.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == build(2609)
    times = [datetime.fromisoformat(json.loads(line)["event_time"]) for line in lines]
    week = [json.loads(line)["event_time"] for line in WEEK.read_text().splitlines()[:1]]
    # All of it before the week: the worker's clock then only moves forward in make run.
    assert max(times) < datetime.fromisoformat(week[0])
    assert max(times).isoformat() == "2026-09-30T20:00:00+08:00"


def test_the_month_follows_the_calendar() -> None:
    days = {e["day"] for e in build(2609) if e["type"] == "plan.daily"}
    assert len(days) == 22  # 22 weekdays, less Friday 25 (中秋节), plus Sunday 20 (调休)
    assert "2026-09-25" not in days and "2026-09-20" in days and "2026-09-19" not in days


def test_the_week_after_the_month_raises_the_alerts_of_the_week_alone() -> None:
    month_end = datetime.fromisoformat("2026-09-30T20:00:00+08:00")
    both = _alerts(MONTH, WEEK)
    assert [a for a in both if a.at <= month_end] == _alerts(MONTH)
    week = [a for a in both if a.at > month_end]
    assert week == _alerts(WEEK)
    assert len(week) == 43


def test_the_month_leaves_nothing_in_transit_for_the_week() -> None:
    assert _in_transit(MONTH) == {name: {} for name in IN_TRANSIT}
    assert _in_transit(MONTH, WEEK) == _in_transit(WEEK)


def test_the_months_assessment_does_not_change_when_the_week_follows(tmp_path: Path) -> None:
    both = tmp_path / "both.jsonl"
    both.write_bytes(MONTH.read_bytes() + WEEK.read_bytes())
    alone, _ = replay_assessment(MONTH, RULES, "2026-09")
    after, _ = replay_assessment(both, RULES, "2026-09")
    assert after == alone
    assert [(p.region, p.on_time) for p in alone.plans] == [
        ("east", True),
        ("north", True),
        ("south", True),
        ("west", False),
    ]
    assert {p.region: p.due for p in alone.plans}["west"] == datetime.fromisoformat(
        "2026-09-20T15:00:00+08:00"
    )
    weeks = {p.start: p.working_days for p in alone.periods if p.period == "week"}
    # 中秋节 takes Friday 25 September; the 调休 Sunday 20 September is worked instead.
    assert (alone.working_days, weeks[date(2026, 9, 14)], weeks[date(2026, 9, 21)]) == (22, 6, 4)
