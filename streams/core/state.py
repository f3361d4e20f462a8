"""The live tables and the one function that updates them: ``apply_event``.

Pure: no Faust, no Kafka, no clock. The Faust worker passes its changelog-backed tables
(which are ``MutableMapping``s); the rule engine, ``orderhub replay`` and the tests pass
plain dicts. One implementation, not two.

Exactly-once effect under at-least-once delivery: every table entry remembers the sequence
number (the source offset) of the last event that changed it, and an event whose sequence
is not newer than an entry's is not applied to that entry again. An event's deltas are
computed from the order record *before* the event and recorded in it, so a redelivered
event after a crash re-applies exactly the deltas that the crash lost and no others.

Events are also de-duplicated by ``event_id`` per order, so a producer's retry or a record
re-forwarded by ingest after a crash (a new offset, the same event) is not counted twice.

Snapshot events (a stock level, a model's or region's limits, a weekly forecast, a daily
shipping plan line) replace
what a table holds, so for them the *latest event time* wins, not the latest arrival: a
snapshot dated before the one applied, or the same snapshot sent again, changes nothing.
A re-forwarded copy of an old forecast therefore cannot undo a newer one (CI saw exactly
that after a restart), an ERP re-sending yesterday's stock file does not hide today's, and
the tables do not depend on how topics interleave.

Table values are JSON-ready dicts (ints, strings, lists) because Faust serialises them to
its changelog topics.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from contract import events as m

Entry = dict[str, Any]
Table = MutableMapping[str, Entry]
Tables = Mapping[str, Table]

TABLE_NAMES: tuple[str, ...] = (
    "in_transit_region",  # region -> {"qty"}
    "in_transit_model",  # model -> {"qty"}
    "in_transit_region_model",  # "region|model" -> {"qty"}
    "stock",  # model -> {"on_hand", "reasonable_stock", "upper_limit"}
    "region_stock",  # region -> {"reasonable_stock"}
    "forecast",  # "region|model" -> {"qty", "week_start"}
    "forecast_region",  # region -> {"qty", "by_model": {model: qty}}
    "forecast_model",  # model -> {"qty", "by_region": {region: qty}}
    "orders",  # order_id -> order record (see ``new_order``)
    # "region|model|day" -> a daily shipping plan line (see ``_apply_plan_line``)
    "plan_lines",
    # The rule engine's own state lives in tables too, so it survives a restart:
    # (typed entries and their codec: ``streams.core.engine.state``)
    "rule_timers",  # "rule|key" -> a Watch (start event, tiers, tiers fired)
    "rule_alerts",  # fingerprint -> a FiringAlert (the alert firing now)
    "rule_clock",  # "engine" -> EngineClock, "schedule:RULE" -> SchedulePeriod
)

SEQ = "_seq"
# Enough for an order's whole lifecycle (some 20 steps) with retries; bounded, so an order
# record stays a few kilobytes however long it lives.
MAX_EVENT_IDS = 64
EFFECT = "_effect"


def empty_tables() -> dict[str, dict[str, Entry]]:
    """Fresh in-memory tables, for the engine, replay and tests."""
    return {name: {} for name in TABLE_NAMES}


def pair_key(region: str, model: str) -> str:
    """Key of the (region, model) tables. '|' cannot occur in ids the ERP sends us."""
    return f"{region}|{model}"


def _fresh(entry: Entry | None, seq: int) -> bool:
    """True when ``seq`` has not been applied to ``entry`` yet."""
    return entry is None or int(entry.get(SEQ, -1)) < seq


def _add_qty(table: Table, key: str, delta: int, seq: int) -> None:
    entry = table.get(key)
    if delta == 0 or not _fresh(entry, seq):
        return
    qty = int(entry["qty"]) if entry else 0
    # Faust tables only see a change on assignment, so always store a new dict.
    table[key] = {"qty": max(0, qty + delta), SEQ: seq}


def _merge(table: Table, key: str, seq: int, **fields: Any) -> None:
    entry = table.get(key)
    if not _fresh(entry, seq):
        return
    table[key] = {**(entry or {}), **fields, SEQ: seq}


def _superseded(entry: Entry | None, part: str, event: m.Event, seq: int) -> bool:
    """True when ``entry``'s ``part`` already holds this snapshot or a later-dated one.

    ``part`` names what the event sets ("on_hand", "limits", "forecast"): one stock entry
    holds both a count and limits, each dated by its own event.
    """
    mark = (entry or {}).get(f"_{part}")
    if not mark or mark["seq"] == seq:
        return False  # nothing yet, or this very record redelivered after a crash
    if mark["id"] == event.event_id:
        return True  # the same snapshot sent again (a retry, a re-forwarded record)
    return datetime.fromisoformat(mark["at"]) > event.event_time


def _set_snapshot(
    table: Table, key: str, part: str, event: m.Event, seq: int, **fields: Any
) -> bool:
    """Set ``fields`` of ``key`` from a snapshot event; False when it is superseded."""
    if _superseded(table.get(key), part, event, seq):
        return False
    mark = {"at": event.event_time.isoformat(), "id": event.event_id, "seq": seq}
    _merge(table, key, seq, **fields, **{f"_{part}": mark})
    return True


# --- order records -------------------------------------------------------------------------


def new_order(order_id: str, region: str, model: str) -> Entry:
    """The record kept per order. Times are ISO-8601 strings with offset."""
    return {
        "order_id": order_id,
        "region": region,
        "model": model,
        "quantity": 0,
        "amount": "0",
        "special": False,
        "priority": "normal",
        "promised_date": None,
        "status": "open",  # open | rejected | cancelled | delivered
        "in_transit": 0,  # quantity counted in the in-transit tables now
        "delivered": 0,
        "deposit_paid": "0",
        "paid": "0",
        "signatures": [],  # "role:document", e.g. "vice_president:order"
        "approvals": [],  # "standard" | "senior"
        "steps": {},  # step name (event type without "order.") -> time of its latest event
        "last_step": None,
        "last_step_at": None,
        "clerk": None,
        "closed_at": None,  # when it was cancelled, rejected, or delivered and paid in full
        "event_ids": [],  # the latest MAX_EVENT_IDS event ids, to drop duplicates
        SEQ: -1,
    }


def _order_fields(event: m.Event) -> dict[str, Any]:
    """Fields of the order record that this event sets, besides steps and in-transit."""
    fields: dict[str, Any] = {}
    if isinstance(event, m.OrderReceived | m.OrderEntered | m.OrderConfirmed):
        fields["quantity"] = event.quantity
        fields["amount"] = str(event.amount)
        fields["special"] = event.special
        if event.promised_date is not None:
            fields["promised_date"] = event.promised_date.isoformat()
    if isinstance(event, m.OrderEntered):
        fields["priority"] = event.priority
    if isinstance(event, m.OrderReleased):
        fields["clerk"] = event.clerk
    return fields


def _in_transit_delta(order: Entry, event: m.Event) -> int:
    """Change of the order's in-transit quantity caused by ``event``."""
    current = int(order["in_transit"])
    if isinstance(event, m.OrderConfirmed):
        # A re-confirmation (after a change) resets the open quantity.
        return max(0, event.quantity - int(order["delivered"])) - current
    if isinstance(event, m.OrderDelivered):
        return -min(event.quantity, current)
    if isinstance(event, m.OrderCancelled | m.OrderRejected | m.OrderPickedUp):
        # A special order's pick-up from stock is its delivery to the region.
        return -current
    return 0


def _next_order(order: Entry, event: m.OrderKeyed, seq: int) -> Entry:
    """The order record after ``event``, with the event's effect recorded in it."""
    at = event.event_time.isoformat()
    step = m.step_name(event.type)
    delta = _in_transit_delta(order, event)
    new = {**order, **_order_fields(event)}
    new["steps"] = {**order["steps"], step: at}
    new["last_step"], new["last_step_at"] = step, at
    new["in_transit"] = int(order["in_transit"]) + delta
    if isinstance(event, m.OrderDelivered):
        new["delivered"] = int(order["delivered"]) + event.quantity
        if new["in_transit"] == 0:
            new["status"] = "delivered"
    elif isinstance(event, m.OrderPickedUp):
        new["delivered"] = int(order["delivered"]) + int(order["in_transit"])
        new["status"] = "delivered"
    elif isinstance(event, m.OrderCancelled):
        new["status"] = "cancelled"
    elif isinstance(event, m.OrderRejected):
        new["status"] = "rejected"
    elif isinstance(event, m.OrderDepositPaid):
        new["deposit_paid"] = str(Decimal(order["deposit_paid"]) + event.amount)
    elif isinstance(event, m.OrderPaid):
        new["paid"] = str(Decimal(order["paid"]) + event.amount)
    elif isinstance(event, m.OrderSignedOff):
        new["signatures"] = sorted({*order["signatures"], f"{event.role}:{event.document}"})
    elif isinstance(event, m.OrderApproved):
        new["approvals"] = sorted({*order["approvals"], event.level})
    new["closed_at"] = (order.get("closed_at") or at) if is_closed(new) else None
    new["event_ids"] = [*order.get("event_ids", []), event.event_id][-MAX_EVENT_IDS:]
    new[SEQ] = seq
    new[EFFECT] = {"seq": seq, "in_transit": delta}
    return new


def is_closed(order: Entry) -> bool:
    """Cancelled, rejected, or delivered and paid in full: nothing more is expected of it."""
    status = order["status"]
    if status in ("cancelled", "rejected"):
        return True
    return status == "delivered" and Decimal(order["paid"]) >= Decimal(order["amount"])


def expired_orders(orders: Table, closed_before: datetime) -> list[str]:
    """The orders closed at or before ``closed_before``: their retention is over."""
    return sorted(
        order_id
        for order_id, order in orders.items()
        if order.get("closed_at") and datetime.fromisoformat(order["closed_at"]) <= closed_before
    )


def _apply_order_event(tables: Tables, event: m.OrderKeyed, seq: int) -> bool:
    orders = tables["orders"]
    before = orders.get(event.order_id)
    if before is None:
        before = new_order(event.order_id, event.region, event.model)
    if _fresh(before, seq):
        if event.event_id in before.get("event_ids", []):
            return False  # the same event sent again (producer retry, re-forwarded ingest)
        after = _next_order(before, event, seq)
        orders[event.order_id] = after
    else:
        after = before
    effect = after.get(EFFECT) or {}
    if effect.get("seq") != seq:
        return True  # an older event redelivered: everything it changed is already newer
    delta = int(effect["in_transit"])
    region, model = after["region"], after["model"]
    _add_qty(tables["in_transit_region"], region, delta, seq)
    _add_qty(tables["in_transit_model"], model, delta, seq)
    _add_qty(tables["in_transit_region_model"], pair_key(region, model), delta, seq)
    return True


def _apply_forecast(tables: Tables, event: m.WeeklyForecast, seq: int) -> bool:
    r, mo, qty = event.region, event.model, event.quantity
    week = event.week_start.isoformat()
    if not _set_snapshot(
        tables["forecast"], pair_key(r, mo), "forecast", event, seq, qty=qty, week_start=week
    ):
        return False
    # The aggregates keep their breakdown so a redelivered forecast sets, never adds.
    by_model = {**(tables["forecast_region"].get(r) or {}).get("by_model", {}), mo: qty}
    _merge(tables["forecast_region"], r, seq, by_model=by_model, qty=sum(by_model.values()))
    by_region = {**(tables["forecast_model"].get(mo) or {}).get("by_region", {}), r: qty}
    _merge(tables["forecast_model"], mo, seq, by_region=by_region, qty=sum(by_region.values()))
    return True


def plan_line_key(region: str, model: str, day: str) -> str:
    """Key of the ``plan_lines`` table: ``"region|model|YYYY-MM-DD"``."""
    return f"{region}|{model}|{day}"


def _apply_plan_line(tables: Tables, event: m.DailyShippingPlan, seq: int) -> bool:
    """A line of the daily shipping plan: the latest-dated one per (region, model, day)
    wins, so a revised plan replaces the quantity and the signatures."""
    day = event.day.isoformat()
    line = {
        "region": event.region,
        "model": event.model,
        "day": day,
        "week_start": event.week_start.isoformat(),
        "qty": event.quantity,
        "compiled_by": event.compiled_by,
        "reviewed_by": event.reviewed_by,
        "approved_by": event.approved_by,
    }
    key = plan_line_key(event.region, event.model, day)
    return _set_snapshot(tables["plan_lines"], key, "plan", event, seq, **line)


def expired_plan_lines(lines: Mapping[str, Entry], before: str) -> list[str]:
    """Keys of the plan lines for a day before ``before`` (an ISO date)."""
    return [key for key, line in lines.items() if str(line.get("day", "")) < before]


def apply_event(tables: Tables, event: m.Event, seq: int) -> bool:
    """Apply one event to the tables. ``seq`` must grow with every event of the stream.

    False when the event is a duplicate: an order event whose id was already applied under
    an earlier ``seq`` (a producer's retry, a batch sent twice), or a snapshot already
    superseded (see the module docstring). Rules must not judge it again — it would be
    judged against state that already holds its later events. A redelivery at the *same*
    ``seq`` (after a crash) is True: its rules may not have run.
    """
    if isinstance(event, m.OrderKeyed):
        return _apply_order_event(tables, event, seq)
    if isinstance(event, m.StockLevel):
        return _set_snapshot(
            tables["stock"], event.model, "on_hand", event, seq, on_hand=event.on_hand
        )
    if isinstance(event, m.ModelLimits):
        limits = {"reasonable_stock": event.reasonable_stock, "upper_limit": event.upper_limit}
        return _set_snapshot(tables["stock"], event.model, "limits", event, seq, **limits)
    if isinstance(event, m.RegionLimits):
        limit = event.reasonable_stock
        return _set_snapshot(
            tables["region_stock"], event.region, "limits", event, seq, reasonable_stock=limit
        )
    if isinstance(event, m.WeeklyForecast):
        return _apply_forecast(tables, event, seq)
    if isinstance(event, m.DailyShippingPlan):
        return _apply_plan_line(tables, event, seq)
    return True


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateView:
    """Read-only access to the tables with the defaults a rule expects (0 when unknown).

    The rule language's table names map onto these methods (see ``dsl``'s schema).
    """

    tables: Tables

    def _qty(self, table: str, key: str) -> int:
        entry = self.tables[table].get(key)
        return int(entry["qty"]) if entry else 0

    def in_transit_region(self, region: str) -> int:
        return self._qty("in_transit_region", region)

    def in_transit_model(self, model: str) -> int:
        return self._qty("in_transit_model", model)

    def in_transit_region_model(self, region: str, model: str) -> int:
        return self._qty("in_transit_region_model", pair_key(region, model))

    def forecast_region(self, region: str) -> int:
        return self._qty("forecast_region", region)

    def forecast_model(self, model: str) -> int:
        return self._qty("forecast_model", model)

    def forecast_region_model(self, region: str, model: str) -> int:
        return self._qty("forecast", pair_key(region, model))

    def _stock_field(self, model: str, field: str) -> int:
        entry = self.tables["stock"].get(model) or {}
        return int(entry.get(field, 0))

    def stock_on_hand(self, model: str) -> int:
        return self._stock_field(model, "on_hand")

    def stock_reasonable(self, model: str) -> int:
        return self._stock_field(model, "reasonable_stock")

    def stock_upper_limit(self, model: str) -> int:
        return self._stock_field(model, "upper_limit")

    def region_reasonable_stock(self, region: str) -> int:
        entry = self.tables["region_stock"].get(region) or {}
        return int(entry.get("reasonable_stock", 0))

    def order(self, order_id: str) -> Entry | None:
        return self.tables["orders"].get(order_id)


def public(entry: Entry) -> Entry:
    """An entry without the bookkeeping fields, for display."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}
