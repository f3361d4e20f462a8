"""``orderhub report assessment``: the month's assessment, and its views as tables.

Offline (``--events FILE.jsonl``) the events go through the replay engine
(``streams.offline.replay``) exactly as ``orderhub replay`` runs them; each event is also fed
to the assessment facts, each firing alert booked in the ledger (``Ledger``), the file's
``assessment.void`` events applied, and the KPIs computed by the same function the live
worker's ``/assessment/kpis`` runs (``streams.core.assessment.kpis.assess``): the same
numbers either way.

The views (``views``) are one list of named tables with English and Chinese headings; the
text table, the CSV and the ``.xlsx`` are all written from them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from contract.events import Alert, AssessmentVoid, Event
from dsl.calendar import DEFAULT_CALENDAR
from streams.core.assessment.facts import Facts, feed
from streams.core.assessment.kpis import Assessment, assess, order_regions
from streams.core.assessment.ledger import Ledger
from streams.core.assessment.ruleinfo import assessment_rules
from streams.offline.replay import ReplayError, events_in_order, index_events, load_rules, run


@dataclass
class Offline:
    """What a replay of the events made: the facts, the ledger, the rules' view."""

    facts: Facts
    ledger: Ledger
    skipped: list[str]


def replay_assessment(
    events: Path,
    rules_dir: Path,
    month: str,
    region: str | None = None,
    timezone: str = DEFAULT_CALENDAR.zone.key,
) -> tuple[Assessment, Offline]:
    """The month's assessment of an events file, through the replay engine."""
    rule_set = load_rules(rules_dir, timezone)
    fact_rules, kpi_rules = assessment_rules(rule_set)
    facts: Facts = {}
    alerts: list[Alert] = []
    voids: list[AssessmentVoid] = []
    skipped: list[str] = []

    def fed(stream: Iterator[tuple[int, Event]]) -> Iterator[tuple[int, Event]]:
        for seq, event in stream:
            if isinstance(event, AssessmentVoid):
                voids.append(event)
            feed(facts, event, fact_rules)
            yield seq, event

    try:
        with events.open("rb") as stream:
            index = index_events(stream, lambda n, why: skipped.append(f"{n}: {why}"), str(events))
            run(rule_set.engine(), fed(events_in_order(stream, index)), None, alerts.append)
    except OSError as exc:
        raise ReplayError(f"{events}: cannot read: {exc.strerror}") from exc
    ledger = Ledger()
    regions = order_regions(facts)
    for alert in alerts:
        if alert.status == "firing":
            ledger.add_alert(alert, region=regions.get(alert.key.get("order_id", "")))
    for void in voids:
        ledger.void(void)
    result = assess(facts, ledger.entries.values(), month, kpi_rules, region)
    return result, Offline(facts, ledger, skipped)


# --- views --------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """One table of the report: a name, headings in English and Chinese, rows."""

    name: str
    title: str  # English / 中文
    headings: tuple[tuple[str, str], ...]  # (English, 中文)
    rows: list[list[Any]]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, Decimal):
        return str(value)
    return value


def views(a: Assessment, days: bool = True) -> list[View]:
    """Every view of the assessment; ``days`` False leaves the per-day rows out."""
    kinds = ("day", "week", "month") if days else ("week", "month")
    periods = [p for p in a.periods if p.period in kinds]
    periods.sort(key=lambda p: (p.region, kinds.index(p.period), p.start))
    return [
        View(
            "plan",
            "Daily shipping plan / 日发货计划",
            (
                ("region", "区域"),
                ("period", "周期"),
                ("from", "起"),
                ("to", "止"),
                ("working days", "工作日"),
                ("plan lines", "计划行"),
                ("on time", "按时发货"),
                ("on-time rate", "及时率"),
                ("planned", "计划量"),
                ("fulfilled", "满足量"),
                ("shipped", "发货量"),
                ("fulfilment", "需求满足率"),
            ),
            [
                [
                    p.region,
                    p.period,
                    p.start.isoformat(),
                    p.end.isoformat(),
                    p.working_days,
                    p.plan_lines,
                    p.lines_on_time,
                    percent(p.on_time_rate),
                    p.planned,
                    p.fulfilled,
                    p.shipped,
                    percent(p.fulfilment),
                ]
                for p in periods
            ],
        ),
        View(
            "sla",
            "SLA compliance / 时效达标率",
            (
                ("region", "区域"),
                ("step", "环节"),
                ("orders", "订单数"),
                ("missed", "超时"),
                ("compliance", "达标率"),
            ),
            [
                [s.region, s.rule_id, s.started, s.missed, percent(s.compliance)]
                for s in a.sla
                if days or s.started  # the table for people leaves out steps nobody began
            ],
        ),
        View(
            "plans",
            "Monthly plan on time (PLAN-1) / 月需求计划按时提交",
            (
                ("region", "区域"),
                ("plan month", "计划月份"),
                ("due", "截止"),
                ("submitted", "提交"),
                ("on time", "按时"),
            ),
            [
                [p.region, p.plan_month, _cell(p.due) or "-", _cell(p.submitted) or "-", p.on_time]
                for p in a.plans
            ],
        ),
        View(
            "breaches",
            "Breaches per rule / 违规次数",
            (
                ("region", "区域"),
                ("rule", "规则"),
                ("department", "责任部门"),
                ("breaches", "次数"),
                ("fines CNY", "罚款(元)"),
            ),
            [[b.region, b.rule_id, b.department, b.breaches, _cell(b.fines)] for b in a.breaches],
        ),
        View(
            "fines",
            "Fines per person / 个人罚款",
            (("who", "责任人"), ("region", "区域"), ("entries", "次数"), ("CNY", "金额(元)")),
            [[f.who, f.region, f.entries, _cell(f.amount)] for f in a.person_fines],
        ),
        View(
            "regions",
            "Fines and breaches per region / 区域罚款与违规",
            (
                ("region", "区域"),
                ("breaches", "违规次数"),
                ("fined", "罚款次数"),
                ("CNY", "罚款(元)"),
            ),
            [[r.region, r.breaches, r.fined, _cell(r.amount)] for r in a.region_fines],
        ),
    ]


def _text_table(view: View) -> str:
    header = [f"{en} {zh}" for en, zh in view.headings]
    rows = [[str(c) for c in row] for row in view.rows]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return f"{view.title}\n" + "\n".join(lines) + "\n"


def _width(text: str) -> int:
    """Columns on a terminal: a CJK character takes two."""
    return sum(2 if ord(ch) >= 0x1100 and not 0xFF61 <= ord(ch) <= 0xFFDC else 1 for ch in text)


def table_text(a: Assessment) -> str:
    """The report for people: weeks and the month (days are in csv, json and xlsx)."""
    scope = a.region or "all regions / 全部区域"
    head = f"Assessment 考核 {a.month}, {scope}: {a.working_days} working days 工作日"
    if a.voided:
        head += f", {a.voided} voided entries 已作废"
    return head + "\n\n" + "\n".join(_text_table(v) for v in views(a, days=False))


def csv_text(a: Assessment) -> str:
    """Every view, one after the other: a title row, the headings row (English and
    Chinese), the rows, then an empty row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for view in views(a):
        writer.writerow([view.name, view.title])
        writer.writerow([f"{en} / {zh}" for en, zh in view.headings])
        writer.writerows([[_cell(c) for c in row] for row in view.rows])
        writer.writerow([])
    return out.getvalue()


def sheet_rows(view: View) -> Sequence[Sequence[Any]]:
    """A sheet's rows: English headings, Chinese headings, then the data."""
    return [
        [en for en, _ in view.headings],
        [zh for _, zh in view.headings],
        *([_cell(c) for c in row] for row in view.rows),
    ]
