"""Assessment facts (考核事实): what the KPIs need from the events, one row per region and day.

A row holds that day's approved-or-not daily shipping plan lines (by model), the shipments
dispatched and the deliveries of that day (by shipment or order id), the orders that began
each SLA step that day (by rule id), and the monthly plans submitted that day.

Feeding is idempotent and commutative: a fact is kept by its own identity (plan line: region,
model, day; shipment id; order id), and when two versions meet the later event time wins
(the event id breaks a tie). So the live worker may feed an event twice, after a crash, or in
another order than replay does, and the rows come out the same — the reason the worker can
keep them with at-least-once delivery and no commit journal.

Rows are bounded by time, not by history: ``expired`` names the rows of months older than
the retention. One codec (``row_json`` / ``row_from_json``) is the changelog table's format.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.events import (
    DailyShippingPlan,
    Event,
    MonthlyPlan,
    OrderDelivered,
    ShipmentDispatched,
)
from dsl.compiled import CompiledRule

RowKey = tuple[str, date]  # (region, day)


@dataclass(frozen=True)
class PlanLine:
    """One day's planned quantity of one model for the row's region (周需求日发货计划)."""

    model: str
    quantity: int
    approved: bool
    at: datetime  # event time of the line's latest version
    event_id: str


@dataclass(frozen=True)
class Shipment:
    """A quantity of a model that left for the row's region: a dispatch, or a delivery of an
    order with no dispatch on record (then ``shipment_id`` is empty)."""

    shipment_id: str
    order_id: str
    model: str
    quantity: int
    at: datetime
    event_id: str


@dataclass
class DayFacts:
    """The facts of one region on one day (the business time zone's calendar day)."""

    plan: dict[str, PlanLine] = field(default_factory=dict)  # model ->
    shipped: dict[str, Shipment] = field(default_factory=dict)  # shipment id ->
    delivered: dict[str, Shipment] = field(default_factory=dict)  # order id ->
    sla_started: dict[str, set[str]] = field(default_factory=dict)  # rule id -> order ids
    monthly_plans: dict[str, datetime] = field(default_factory=dict)  # plan month -> first


Facts = dict[RowKey, DayFacts]


@dataclass(frozen=True)
class FactRules:
    """What the facts need from the rule set: the business time zone, and which event types
    begin which SLA step (the `after` events of the deadline rules named ``SLA-…``)."""

    zone: ZoneInfo
    sla_starts: Mapping[str, tuple[str, ...]]  # event type -> SLA rule ids it starts


def sla_starts(rules: Iterable[CompiledRule]) -> dict[str, tuple[str, ...]]:
    """Event type -> the SLA rules (deadline rules whose id starts with ``SLA-``) it starts."""
    found: dict[str, list[str]] = {}
    for rule in rules:
        if rule.kind == "deadline" and rule.id.startswith("SLA-"):
            for trigger in sorted(rule.triggers):
                found.setdefault(trigger, []).append(rule.id)
    return {event_type: tuple(sorted(ids)) for event_type, ids in found.items()}


def _newer(old: Any, new: Any) -> bool:
    return old is None or (new.at, new.event_id) > (old.at, old.event_id)


def _row(facts: Facts, key: RowKey) -> DayFacts:
    return facts.setdefault(key, DayFacts())


def feed(facts: Facts, event: Event, rules: FactRules) -> RowKey | None:
    """Add what ``event`` says to ``facts``; returns the row it changed (or would have: a
    repeated event changes nothing), None when the event is no fact."""
    day = event.event_time.astimezone(rules.zone).date()
    if isinstance(event, DailyShippingPlan):
        line = PlanLine(
            event.model,
            event.quantity,
            bool(event.approved_by),
            event.event_time,
            event.event_id,
        )
        row = _row(facts, (event.region, event.day))
        if _newer(row.plan.get(event.model), line):
            row.plan[event.model] = line
        return (event.region, event.day)
    if isinstance(event, MonthlyPlan):
        row = _row(facts, (event.region, day))
        first = row.monthly_plans.get(event.month)
        row.monthly_plans[event.month] = min(filter(None, (first, event.event_time)))
        return (event.region, day)
    if isinstance(event, ShipmentDispatched | OrderDelivered):
        return _feed_shipment(facts, event, day)
    starts = rules.sla_starts.get(event.type, ())
    order_id, region = getattr(event, "order_id", None), getattr(event, "region", None)
    if not starts or not isinstance(order_id, str) or not isinstance(region, str):
        return None
    row = _row(facts, (region, day))
    for rule_id in starts:
        row.sla_started.setdefault(rule_id, set()).add(order_id)
    return (region, day)


def _feed_shipment(facts: Facts, event: ShipmentDispatched | OrderDelivered, day: date) -> RowKey:
    dispatched = isinstance(event, ShipmentDispatched)
    shipment_id = event.shipment_id if isinstance(event, ShipmentDispatched) else ""
    found = Shipment(
        shipment_id, event.order_id, event.model, event.quantity, event.event_time, event.event_id
    )
    row = _row(facts, (event.region, day))
    held = row.shipped if dispatched else row.delivered
    ident = shipment_id if dispatched else event.order_id
    if _newer(held.get(ident), found):
        held[ident] = found
    return (event.region, day)


# --- retention --------------------------------------------------------------------------


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_index(month: str) -> int:
    """``YYYY-MM`` as a count of months, so that months subtract."""
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def expired(keys: Iterable[RowKey], latest_month: str, keep_months: int) -> list[RowKey]:
    """The rows older than the ``keep_months`` months up to ``latest_month`` (inclusive)."""
    oldest = month_index(latest_month) - keep_months + 1
    return [key for key in keys if month_index(month_of(key[1])) < oldest]


# --- the codec --------------------------------------------------------------------------


def row_key(key: RowKey) -> str:
    """The table key: ``2026-10-09|north`` (the day first: a region may contain ``|``)."""
    return f"{key[1].isoformat()}|{key[0]}"


def key_of(text: str) -> RowKey:
    day, region = text.split("|", 1)
    return (region, date.fromisoformat(day))


def _item(value: PlanLine | Shipment) -> dict[str, Any]:
    data = dict(value.__dict__)
    data["at"] = value.at.isoformat()
    return data


def row_json(row: DayFacts) -> dict[str, Any]:
    """The row as the changelog table's JSON."""
    return {
        "plan": {model: _item(line) for model, line in sorted(row.plan.items())},
        "shipped": {k: _item(s) for k, s in sorted(row.shipped.items())},
        "delivered": {k: _item(s) for k, s in sorted(row.delivered.items())},
        "sla_started": {rule: sorted(ids) for rule, ids in sorted(row.sla_started.items())},
        "monthly_plans": {m: t.isoformat() for m, t in sorted(row.monthly_plans.items())},
    }


def _timed(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "at": datetime.fromisoformat(data["at"])}


def row_from_json(data: Mapping[str, Any]) -> DayFacts:
    """The inverse of ``row_json``."""
    return DayFacts(
        plan={m: PlanLine(**_timed(v)) for m, v in data.get("plan", {}).items()},
        shipped={k: Shipment(**_timed(v)) for k, v in data.get("shipped", {}).items()},
        delivered={k: Shipment(**_timed(v)) for k, v in data.get("delivered", {}).items()},
        sla_started={r: set(ids) for r, ids in data.get("sla_started", {}).items()},
        monthly_plans={
            m: datetime.fromisoformat(t) for m, t in data.get("monthly_plans", {}).items()
        },
    )
