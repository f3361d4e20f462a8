"""The daily shipping plan lines in the tables: the latest-dated line wins, old ones go."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.events import DailyShippingPlan, Event, parse_event
from streams.core.retention import first_kept_day, prune_plan_lines
from streams.core.state import apply_event, empty_tables, public

SHANGHAI = ZoneInfo("Asia/Shanghai")


def line(n: int, at: str, day: str, qty: int, approved_by: str | None = "VP Zhao") -> Event:
    return parse_event(
        {
            "event_id": f"p{n}",
            "type": "plan.daily",
            "event_time": at,
            "source": "csv",
            "region": "华北",
            "model": "M-100",
            "week_start": "2026-11-02",
            "day": day,
            "quantity": qty,
            "compiled_by": "李明",
            "reviewed_by": "王芳",
            "approved_by": approved_by,
        }
    )


def lines_after(*events: Event) -> dict[str, Any]:
    tables = empty_tables()
    for seq, event in enumerate(events):
        apply_event(tables, event, seq)
    return {k: public(v) for k, v in tables["plan_lines"].items()}


def test_a_plan_line_is_kept_per_region_model_and_day_with_its_signatures() -> None:
    got = lines_after(line(1, "2026-10-30T10:00:00+08:00", "2026-11-03", 40))
    assert got == {
        "华北|M-100|2026-11-03": {
            "region": "华北",
            "model": "M-100",
            "day": "2026-11-03",
            "week_start": "2026-11-02",
            "qty": 40,
            "compiled_by": "李明",
            "reviewed_by": "王芳",
            "approved_by": "VP Zhao",
        }
    }


def test_the_latest_dated_line_wins_whatever_the_arrival_order() -> None:
    old = line(1, "2026-10-30T10:00:00+08:00", "2026-11-03", 40)
    revised = line(2, "2026-10-31T10:00:00+08:00", "2026-11-03", 35, approved_by=None)
    for order in ((old, revised), (revised, old), (old, revised, old)):
        got = lines_after(*order)["华北|M-100|2026-11-03"]
        assert (got["qty"], got["approved_by"]) == (35, None)


def test_plan_lines_of_months_the_assessment_no_longer_keeps_leave() -> None:
    tables = empty_tables()
    for seq, day in enumerate(["2025-09-30", "2025-10-01", "2026-11-03"]):
        event = line(seq, "2025-09-01T10:00:00+08:00", day, 10)
        assert isinstance(event, DailyShippingPlan)
        apply_event(tables, event, seq)
    # At 2026-11-20 with 13 months kept: October 2025 onwards stays.
    keep_from = first_kept_day(datetime(2026, 11, 20, tzinfo=SHANGHAI), 13, SHANGHAI)
    assert keep_from == date(2025, 10, 1)
    assert prune_plan_lines(tables, keep_from) == 1
    assert sorted(tables["plan_lines"]) == ["华北|M-100|2025-10-01", "华北|M-100|2026-11-03"]
