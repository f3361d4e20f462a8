"""The sales department's KPIs (考核指标) for one month, from the facts and the ledger.

* demand fulfilment (需求满足率): per model, the quantity shipped to the region in the period,
  at most the approved plan's quantity, summed, over the approved plan's quantity;
* on-time rate of the daily shipping plan (日发货计划及时率): approved plan lines (quantity > 0)
  whose model was shipped in full to the region on the line's own day, over all such lines;
* SLA compliance per step: orders that began the step in the month and have no (unvoided)
  ledger entry of the step's rule, over the orders that began it;
* plans submitted on time (PLAN-1): the plan for next month submitted by the deadline;
* breaches per rule and per department, fines per person and per region: the ledger's
  unvoided entries of the month.

Per region, per day, per ISO week (cut at the month's edges, so weeks add up to the month)
and for the month. Working days come from the calendar. Pure: facts, entries and the
calendar are handed in; ``assessment_json`` / ``assessment_from_json`` are the one codec
the worker's ``/assessment/kpis`` and the command line share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from contract.assessment import LedgerEntry
from dsl.calendar import Calendar
from streams.core.assessment.facts import DayFacts, RowKey, Shipment, month_index, month_of

NO_REGION = "-"


@dataclass(frozen=True)
class AssessmentRules:
    """What the KPIs take from the rule set: the working calendar, the SLA steps in order
    and the monthly plan's deadline (PLAN-1's `every month on day D at HH:MM`)."""

    calendar: Calendar
    sla_rules: tuple[str, ...] = ()
    plan_rule: str = "PLAN-1"
    plan_deadline: tuple[int, time] | None = (20, time(15, 0))


@dataclass(frozen=True)
class PeriodKpis:
    """Demand fulfilment and the daily plan's on-time rate of one region in one period."""

    region: str
    period: str  # "day" | "week" | "month"
    start: date
    end: date  # inclusive
    working_days: int
    plan_lines: int
    lines_on_time: int
    on_time_rate: float | None
    planned: int
    fulfilled: int  # shipped against the plan: per model at most the planned quantity
    shipped: int  # everything shipped to the region in the period
    fulfilment: float | None


@dataclass(frozen=True)
class SlaKpi:
    region: str
    rule_id: str
    started: int
    missed: int
    compliance: float | None


@dataclass(frozen=True)
class PlanSubmission:
    region: str
    plan_month: str
    due: datetime | None
    submitted: datetime | None
    on_time: bool


@dataclass(frozen=True)
class Breaches:
    region: str
    rule_id: str
    department: str
    breaches: int
    fines: Decimal


@dataclass(frozen=True)
class PersonFines:
    who: str
    region: str
    entries: int
    amount: Decimal


@dataclass(frozen=True)
class RegionFines:
    region: str
    breaches: int
    fined: int
    amount: Decimal


@dataclass(frozen=True)
class Assessment:
    """Every view of one month's assessment (one region, or all)."""

    month: str
    region: str | None
    working_days: int
    periods: list[PeriodKpis] = field(default_factory=list)
    sla: list[SlaKpi] = field(default_factory=list)
    plans: list[PlanSubmission] = field(default_factory=list)
    breaches: list[Breaches] = field(default_factory=list)
    person_fines: list[PersonFines] = field(default_factory=list)
    region_fines: list[RegionFines] = field(default_factory=list)
    voided: int = 0  # entries of the month an analyst voided (not counted above)


# --- periods ----------------------------------------------------------------------------


def month_days(month: str) -> list[date]:
    index = month_index(month)
    first = date(index // 12, index % 12 + 1, 1)
    after = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return [first + timedelta(days=n) for n in range((after - first).days)]


def next_month(month: str) -> str:
    index = month_index(month) + 1
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def periods(month: str) -> list[tuple[str, date, date]]:
    """(kind, first day, last day) of each day, each ISO week cut to the month, the month."""
    days = month_days(month)
    weeks: dict[date, list[date]] = {}
    for day in days:
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(day)
    return [
        *(("day", d, d) for d in days),
        *(("week", w[0], w[-1]) for w in weeks.values()),
        ("month", days[0], days[-1]),
    ]


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four places; None when there is nothing to measure."""
    return round(part / whole, 4) if whole else None


# --- demand fulfilment and the daily plan ------------------------------------------------


@dataclass
class _RegionMonth:
    """One region's facts of the month, de-duplicated across rows."""

    plan: dict[tuple[str, date], int] = field(default_factory=dict)  # (model, day) -> qty
    shipped: dict[tuple[str, date], int] = field(default_factory=dict)  # (model, day) -> qty
    sla: dict[str, set[str]] = field(default_factory=dict)  # rule -> orders


def _latest(held: dict[str, Shipment], ident: str, found: Shipment) -> None:
    old = held.get(ident)
    if old is None or (found.at, found.event_id) > (old.at, old.event_id):
        held[ident] = found


def _shipments(rows: Iterable[DayFacts]) -> list[Shipment]:
    """Dispatches by shipment id, and deliveries of orders with no dispatch: latest wins."""
    dispatched: dict[str, Shipment] = {}
    delivered: dict[str, Shipment] = {}
    for row in rows:
        for ident, s in row.shipped.items():
            _latest(dispatched, ident, s)
        for ident, s in row.delivered.items():
            _latest(delivered, ident, s)
    with_dispatch = {s.order_id for s in dispatched.values()}
    return [*dispatched.values(), *(s for o, s in delivered.items() if o not in with_dispatch)]


def _region_months(
    facts: Mapping[RowKey, DayFacts], month: str, calendar: Calendar
) -> dict[str, _RegionMonth]:
    rows: dict[str, list[tuple[date, DayFacts]]] = {}
    for (region, day), row in facts.items():
        if month_of(day) == month:
            rows.setdefault(region, []).append((day, row))
    found: dict[str, _RegionMonth] = {}
    for region, days in rows.items():
        kept = found.setdefault(region, _RegionMonth())
        for day, row in days:
            for model, line in row.plan.items():
                if line.approved and line.quantity > 0:
                    kept.plan[(model, day)] = line.quantity
            for rule_id, orders in row.sla_started.items():
                kept.sla.setdefault(rule_id, set()).update(orders)
        for s in _shipments(row for _, row in days):
            when = (s.model, calendar.local_date(s.at))
            kept.shipped[when] = kept.shipped.get(when, 0) + s.quantity
    return found


def _period(
    region: str, kind: str, first: date, last: date, facts: _RegionMonth, calendar: Calendar
) -> PeriodKpis:
    inside = [(m, d, q) for (m, d), q in facts.plan.items() if first <= d <= last]
    on_time = sum(1 for m, d, q in inside if facts.shipped.get((m, d), 0) >= q)
    planned: Counter[str] = Counter()
    shipped: Counter[str] = Counter()
    for m, _, q in inside:
        planned[m] += q
    for (m, d), q in facts.shipped.items():
        if first <= d <= last:
            shipped[m] += q
    fulfilled = sum(min(q, shipped[m]) for m, q in planned.items())
    total = sum(planned.values())
    days = (last - first).days + 1
    working = sum(calendar.is_working_day(first + timedelta(days=n)) for n in range(days))
    return PeriodKpis(
        region=region,
        period=kind,
        start=first,
        end=last,
        working_days=working,
        plan_lines=len(inside),
        lines_on_time=on_time,
        on_time_rate=rate(on_time, len(inside)),
        planned=total,
        fulfilled=fulfilled,
        shipped=sum(shipped.values()),
        fulfilment=rate(fulfilled, total),
    )


# --- the ledger ---------------------------------------------------------------------------


def order_regions(facts: Mapping[RowKey, DayFacts]) -> dict[str, str]:
    """Order id -> region, for entries whose key names no region (the SLA rules' key is the
    order alone)."""
    found: dict[str, str] = {}
    for (region, _), row in facts.items():
        for orders in row.sla_started.values():
            found.update(dict.fromkeys(orders, region))
        for s in (*row.shipped.values(), *row.delivered.values()):
            found[s.order_id] = region
    return found


def entry_region(entry: LedgerEntry, orders: Mapping[str, str]) -> str:
    order_id = entry.key.get("order_id", "")
    return entry.region or entry.key.get("region") or orders.get(order_id) or NO_REGION


def _in_month(entry: LedgerEntry, month: str, calendar: Calendar) -> bool:
    return month_of(calendar.local_date(entry.at)) == month


def _breaches(entries: Sequence[tuple[str, LedgerEntry]]) -> list[Breaches]:
    counts: Counter[tuple[str, str, str]] = Counter()
    fines: dict[tuple[str, str, str], Decimal] = {}
    for region, e in entries:
        ident = (region, e.rule_id, e.department or NO_REGION)
        counts[ident] += 1
        fines[ident] = fines.get(ident, Decimal(0)) + e.amount
    return [Breaches(*ident, counts[ident], fines[ident]) for ident in sorted(counts)]


def _fines(entries: Sequence[tuple[str, LedgerEntry]]) -> list[PersonFines]:
    counts: Counter[tuple[str, str]] = Counter()
    amounts: dict[tuple[str, str], Decimal] = {}
    for region, e in entries:
        if e.amount > 0:
            ident = (e.who or NO_REGION, region)
            counts[ident] += 1
            amounts[ident] = amounts.get(ident, Decimal(0)) + e.amount
    return [PersonFines(*ident, counts[ident], amounts[ident]) for ident in sorted(counts)]


def _region_fines(
    regions: Iterable[str], entries: Sequence[tuple[str, LedgerEntry]]
) -> list[RegionFines]:
    result = []
    for region in sorted(regions):
        mine = [e for r, e in entries if r == region]
        fined = [e for e in mine if e.amount > 0]
        total = sum((e.amount for e in fined), Decimal(0))
        result.append(RegionFines(region, len(mine), len(fined), total))
    return result


# --- SLA and plans ------------------------------------------------------------------------


def _sla(
    region: str, facts: _RegionMonth, missed: set[tuple[str, str]], rules: Sequence[str]
) -> list[SlaKpi]:
    result = []
    for rule_id in sorted({*rules, *facts.sla}, key=_step_order):
        started = facts.sla.get(rule_id, set())
        late = sum(1 for order in started if (rule_id, order) in missed)
        result.append(
            SlaKpi(region, rule_id, len(started), late, rate(len(started) - late, len(started)))
        )
    return result


def _step_order(rule_id: str) -> tuple[int, str]:
    """SLA-2 before SLA-10: by the step's number, then by the id."""
    number = rule_id.split("-")[1] if rule_id.count("-") >= 1 else ""
    return (int(number) if number.isdigit() else 0, rule_id)


def _plan(
    region: str,
    month: str,
    facts: Mapping[RowKey, DayFacts],
    entries: Sequence[tuple[str, LedgerEntry]],
    rules: AssessmentRules,
) -> PlanSubmission:
    plan_month = next_month(month)
    times = [
        row.monthly_plans[plan_month]
        for (r, _), row in facts.items()
        if r == region and plan_month in row.monthly_plans
    ]
    submitted = min(times, default=None)
    due = None
    if rules.plan_deadline is not None:
        index = month_index(month)
        day, clock = rules.plan_deadline
        due = rules.calendar.monthly_deadline(index // 12, index % 12 + 1, day, clock)
    mine = [(e.voided, e) for r, e in entries if r == region and e.rule_id == rules.plan_rule]
    fined = any(not voided for voided, _ in mine)
    excused = bool(mine) and not fined  # an analyst voided the breach: it counts as on time
    in_time = submitted is not None and (due is None or submitted <= due)
    return PlanSubmission(region, plan_month, due, submitted, not fined and (in_time or excused))


# --- the month ----------------------------------------------------------------------------


def assess(
    facts: Mapping[RowKey, DayFacts],
    entries: Iterable[LedgerEntry],
    month: str,
    rules: AssessmentRules,
    region: str | None = None,
) -> Assessment:
    """The month's assessment, of one ``region`` or of every region the facts or the
    ledger name in the month."""
    calendar = rules.calendar
    orders = order_regions(facts)
    monthly = [(entry_region(e, orders), e) for e in entries if _in_month(e, month, calendar)]
    if region is not None:
        monthly = [(r, e) for r, e in monthly if r == region]
    kept = [(r, e) for r, e in monthly if not e.voided]
    by_region = _region_months(facts, month, calendar)
    regions = sorted({*by_region, *(r for r, _ in monthly)} - {NO_REGION})
    if region is not None:
        regions = [region]
    missed = {(e.rule_id, e.key.get("order_id", "")) for _, e in kept}
    result = Assessment(
        month=month,
        region=region,
        working_days=sum(calendar.is_working_day(d) for d in month_days(month)),
        breaches=_breaches(kept),
        person_fines=_fines(kept),
        region_fines=_region_fines({*regions, *(r for r, _ in kept)}, kept),
        voided=len(monthly) - len(kept),
    )
    for name in regions:
        mine = by_region.get(name, _RegionMonth())
        result.periods.extend(
            _period(name, kind, first, last, mine, calendar) for kind, first, last in periods(month)
        )
        result.sla.extend(_sla(name, mine, missed, rules.sla_rules))
        result.plans.append(_plan(name, month, facts, monthly, rules))
    return result


# --- the codec ----------------------------------------------------------------------------


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    """The assessment as JSON: dates and times ISO 8601, money as a decimal string."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, date | datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    result: dict[str, Any] = plain(asdict(assessment))
    return result


def _parse(cls: type[Any], data: Mapping[str, Any]) -> Any:
    converted = dict(data)
    for name, kind in cls.__annotations__.items():
        value = converted.get(name)
        if value is None:
            continue
        if kind in ("date",):
            converted[name] = date.fromisoformat(value)
        elif kind in ("datetime | None",):
            converted[name] = datetime.fromisoformat(value)
        elif kind == "Decimal":
            converted[name] = Decimal(value)
    return cls(**converted)


def assessment_from_json(data: Mapping[str, Any]) -> Assessment:
    """The inverse of ``assessment_json``."""
    views = {
        "periods": PeriodKpis,
        "sla": SlaKpi,
        "plans": PlanSubmission,
        "breaches": Breaches,
        "person_fines": PersonFines,
        "region_fines": RegionFines,
    }
    return Assessment(
        month=data["month"],
        region=data.get("region"),
        working_days=data["working_days"],
        voided=data.get("voided", 0),
        **{name: [_parse(cls, row) for row in data.get(name, [])] for name, cls in views.items()},
    )
