"""Event and alert schemas: the contract between ERP/warehouse systems and OrderHub.

Every event is a flat JSON object with a ``type`` that selects its model. All events carry
an id, an event time (ISO 8601 with an explicit UTC offset), the source system and the
business keys that apply (order id, region, model). Quantities are whole units, never
negative, at most ``MAX_QUANTITY``; money is a Decimal in CNY; fractions (percentages) are
Decimals between 0 and 1.

``parse_event`` is the one entry point that turns a dict into a typed event; it raises
``pydantic.ValidationError`` for a record that does not fit, which the ingest agents turn
into a dead-letter record.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter
from pydantic_core import PydanticCustomError

# Whole units, never negative; a billion of one model is no order, it is a typo or a sum.
MAX_QUANTITY = 1_000_000_000
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Key = Annotated[str, Field(min_length=1, max_length=128)]

# A number, or a text of digits, is epoch seconds: pydantic reads it as UTC, which is a
# guess (ERP systems write local epoch seconds too). A time must say its offset itself.
_NUMBER = re.compile(r"^\s*[+-]?\d+(\.\d*)?\s*$")


def _explicit_offset(value: Any) -> Any:
    """Refuse epoch seconds before pydantic turns them into a UTC time."""
    if isinstance(value, bool | int | float | Decimal) or (
        isinstance(value, str) and _NUMBER.match(value)
    ):
        raise PydanticCustomError(
            "time_without_offset",
            "epoch seconds are not a time: give an ISO 8601 time with its UTC offset, "
            "e.g. 2026-11-02T09:30:00+08:00",
        )
    return value


# A time with an explicit UTC offset (``+08:00``, ``Z``); naive times and epoch seconds are
# refused (``timezone_aware`` / ``time_without_offset`` errors). datetime objects pass as
# they are, so the rule engine and replay keep building events from aware datetimes.
Time = Annotated[AwareDatetime, BeforeValidator(_explicit_offset)]


class Event(BaseModel):
    """Fields common to every event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Key
    type: str
    event_time: Time
    source: Key = Field(description="the system that produced the event, e.g. 'erp' or 'wms'")


class OrderEvent(Event):
    """An event about one customer order (one order line: one product model)."""

    order_id: Key
    region: Key
    model: Key


# --- order lifecycle -------------------------------------------------------------------


class OrderReceived(OrderEvent):
    type: Literal["order.received"] = "order.received"
    channel: Literal["phone", "fax", "email", "web", "dealer_visit", "trade_fair", "other"] = (
        "other"
    )
    quantity: Quantity
    amount: Money
    special: bool = Field(False, description="special order (特殊订单): deposit rules apply")
    promised_date: date | None = None


class OrderEntered(OrderEvent):
    """Entered into the system; the order number is assigned."""

    type: Literal["order.entered"] = "order.entered"
    quantity: Quantity
    amount: Money
    special: bool = False
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    promised_date: date | None = None


class OrderConfirmed(OrderEvent):
    """Confirmed by sales: from here the order counts as in transit (订单在途)."""

    type: Literal["order.confirmed"] = "order.confirmed"
    quantity: Quantity
    amount: Money
    special: bool = False
    promised_date: date | None = None


class OrderSubmittedForReview(OrderEvent):
    type: Literal["order.submitted"] = "order.submitted"


class OrderApproved(OrderEvent):
    type: Literal["order.approved"] = "order.approved"
    approver: Key
    level: Literal["standard", "senior"] = "standard"


class OrderRejected(OrderEvent):
    type: Literal["order.rejected"] = "order.rejected"
    reviewer: Key
    reason: str = ""


class OrderSignedOff(OrderEvent):
    """A signature by a role, e.g. the sales manager or the VP in charge (DEP-1, CHG-1)."""

    type: Literal["order.signed_off"] = "order.signed_off"
    role: Literal["sales_manager", "vice_president", "senior_management", "customer"]
    signer: Key
    document: Literal["order", "modification_request", "change_agreement", "written_confirmation"]


class OrderScheduled(OrderEvent):
    type: Literal["order.scheduled"] = "order.scheduled"


class OrderPlanApproved(OrderEvent):
    type: Literal["order.plan_approved"] = "order.plan_approved"


class OrderProgress(OrderEvent):
    """Daily production progress (SLA-6)."""

    type: Literal["order.progress"] = "order.progress"
    percent_done: Annotated[Decimal, Field(ge=0, le=100)]
    delayed: bool = False


class OrderDelayReported(OrderEvent):
    type: Literal["order.delay_reported"] = "order.delay_reported"
    reason: str = ""
    cause: Literal["production", "sales_not_released", "supply", "logistics", "other"] = "other"
    clerk: str | None = None


class OrderProduced(OrderEvent):
    type: Literal["order.produced"] = "order.produced"


class OrderInspected(OrderEvent):
    type: Literal["order.inspected"] = "order.inspected"
    passed: bool = True


class OrderPacked(OrderEvent):
    type: Literal["order.packed"] = "order.packed"


class OrderReleased(OrderEvent):
    """A sales order released (下达) to production by a sales clerk (REL-1)."""

    type: Literal["order.released"] = "order.released"
    quantity: Quantity
    clerk: Key


class OrderShipped(OrderEvent):
    type: Literal["order.shipped"] = "order.shipped"
    quantity: Quantity


class OrderCustomerNotified(OrderEvent):
    type: Literal["order.customer_notified"] = "order.customer_notified"


class OrderDelivered(OrderEvent):
    """Delivered and accepted by the customer; in-transit quantity falls by ``quantity``."""

    type: Literal["order.delivered"] = "order.delivered"
    quantity: Quantity
    accepted: bool = True


class OrderPickedUp(OrderEvent):
    """A special order's goods picked up from stock by the region (DEP-2/3)."""

    type: Literal["order.picked_up"] = "order.picked_up"


class OrderCancelled(OrderEvent):
    type: Literal["order.cancelled"] = "order.cancelled"
    reason: str = ""


class OrderInvoiced(OrderEvent):
    type: Literal["order.invoiced"] = "order.invoiced"
    amount: Money


class OrderPaid(OrderEvent):
    type: Literal["order.paid"] = "order.paid"
    amount: Money


class OrderDepositPaid(OrderEvent):
    type: Literal["order.deposit_paid"] = "order.deposit_paid"
    amount: Money


class OrderChangeRequested(OrderEvent):
    """A customer's change after confirmation (CHG-2)."""

    type: Literal["order.change_requested"] = "order.change_requested"
    raises_cost: bool = False
    delays_delivery: bool = False
    written_confirmation: bool = False


class OrderChangeApproved(OrderEvent):
    type: Literal["order.change_approved"] = "order.change_approved"
    raises_cost: bool = False
    delays_delivery: bool = False
    agreement_signed: bool = False


class OrderConfigChanged(OrderEvent):
    """The confirmed product configuration sheet was changed (CHG-1)."""

    type: Literal["order.config_changed"] = "order.config_changed"
    changed_by: Key
    modification_request: bool = False
    rd_completion_date: date | None = None


# --- inventory ---------------------------------------------------------------------------


class StockLevel(Event):
    """Stock on hand of one model (warehouse count)."""

    type: Literal["inventory.stock_level"] = "inventory.stock_level"
    model: Key
    on_hand: Quantity


class ModelLimits(Event):
    """Reasonable stock and stock upper limit of one model (CAP-2)."""

    type: Literal["inventory.model_limits"] = "inventory.model_limits"
    model: Key
    reasonable_stock: Quantity
    upper_limit: Quantity


class RegionLimits(Event):
    """Reasonable stock of a sales region (dealer) (CAP-1)."""

    type: Literal["inventory.region_limits"] = "inventory.region_limits"
    region: Key
    reasonable_stock: Quantity


class Stocked(Event):
    """Goods for an order put into stock (入库): the pick-up window starts (DEP-2)."""

    type: Literal["inventory.stocked"] = "inventory.stocked"
    order_id: Key
    region: Key
    model: Key
    quantity: Quantity


class StockShortage(Event):
    """Warehouse reports that an order's model is short (INV-1)."""

    type: Literal["inventory.shortage"] = "inventory.shortage"
    order_id: Key
    region: Key
    model: Key
    requested: Quantity
    available: Quantity


# --- shipments ---------------------------------------------------------------------------


class ShipmentDispatched(Event):
    type: Literal["shipment.dispatched"] = "shipment.dispatched"
    shipment_id: Key
    order_id: Key
    region: Key
    model: Key
    quantity: Quantity
    carrier: str = ""
    eta: Time | None = None


class ShipmentEtaUpdated(Event):
    """The carrier's new estimated arrival: the early warning of DEL-1 reads it."""

    type: Literal["shipment.eta_updated"] = "shipment.eta_updated"
    shipment_id: Key
    order_id: Key
    region: Key
    model: Key
    eta: Time


# --- plans and forecasts -------------------------------------------------------------------


class MonthlyPlan(Event):
    """A region's product demand plan for a month (PLAN-1), e.g. 2026-12."""

    type: Literal["plan.monthly"] = "plan.monthly"
    region: Key
    month: Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    model: Key
    quantity: Quantity


class WeeklyPlan(Event):
    """A region's weekly demand plan (××区域周需求计划表) for one model."""

    type: Literal["plan.weekly"] = "plan.weekly"
    region: Key
    model: Key
    week_start: date
    quantity: Quantity


class WeeklyForecast(Event):
    """Forecast one-week sales (预计1周销量) of a region for one model; replaces the last."""

    type: Literal["plan.forecast"] = "plan.forecast"
    region: Key
    model: Key
    week_start: date
    quantity: Quantity


ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderReceived,
    OrderEntered,
    OrderConfirmed,
    OrderSubmittedForReview,
    OrderApproved,
    OrderRejected,
    OrderSignedOff,
    OrderScheduled,
    OrderPlanApproved,
    OrderProgress,
    OrderDelayReported,
    OrderProduced,
    OrderInspected,
    OrderPacked,
    OrderReleased,
    OrderShipped,
    OrderCustomerNotified,
    OrderDelivered,
    OrderPickedUp,
    OrderCancelled,
    OrderInvoiced,
    OrderPaid,
    OrderDepositPaid,
    OrderChangeRequested,
    OrderChangeApproved,
    OrderConfigChanged,
)
INVENTORY_EVENTS: tuple[type[Event], ...] = (
    StockLevel,
    ModelLimits,
    RegionLimits,
    Stocked,
    StockShortage,
)
SHIPMENT_EVENTS: tuple[type[Event], ...] = (ShipmentDispatched, ShipmentEtaUpdated)


class DailyShippingPlan(Event):
    """One line of a region's weekly demand plan broken down into days (周需求日发货计划, the
    form ××区域周需求计划表): ship ``quantity`` of ``model`` to ``region`` on ``day``.

    A later line for the same (region, model, day) replaces an earlier one (the latest event
    time wins). The assessment counts only approved lines (``approved_by`` set)."""

    type: Literal["plan.daily"] = "plan.daily"
    region: Key
    model: Key
    week_start: date = Field(description="Monday of the plan's week")
    day: date = Field(description="the day the quantity is to ship")
    quantity: Quantity
    compiled_by: Key = Field(description="编制: who compiled the plan")
    reviewed_by: str | None = Field(None, description="审核: who reviewed it")
    approved_by: str | None = Field(None, description="批准: who approved it")


class AssessmentVoid(Event):
    """An analyst voids an assessment ledger entry (a wrong breach or fine); the ledger keeps
    the entry and the void, with its reason."""

    type: Literal["assessment.void"] = "assessment.void"
    entry_id: Key = Field(description="the ledger entry voided (LedgerEntry.entry_id)")
    reason: Annotated[str, Field(min_length=1)]
    by: Key = Field(description="who voids it")


PLAN_EVENTS: tuple[type[Event], ...] = (
    MonthlyPlan,
    WeeklyPlan,
    WeeklyForecast,
    DailyShippingPlan,
)

# Corrections an analyst makes to what the hub recorded; their own input topic family
# ("corrections"), so that they are never mistaken for, nor held up behind, ERP traffic.
CORRECTION_EVENTS: tuple[type[Event], ...] = (AssessmentVoid,)

ALL_EVENTS: tuple[type[Event], ...] = (
    ORDER_EVENTS + INVENTORY_EVENTS + SHIPMENT_EVENTS + PLAN_EVENTS + CORRECTION_EVENTS
)

# Events about one order: each updates the order's record (its steps, its de-duplication by
# event id), whatever topic it comes on.
OrderKeyed = OrderEvent | Stocked | StockShortage | ShipmentDispatched | ShipmentEtaUpdated


def step_name(type_name: str) -> str:
    """The order-record step an order-keyed event type records: ``order.packed`` → ``packed``."""
    return type_name.split(".", 1)[1]


EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in ALL_EVENTS}

# Which topic family each event type belongs to: "orders", "inventory", "shipments", "plans",
# "corrections".
EVENT_FAMILY: dict[str, str] = {
    **{c.model_fields["type"].default: "orders" for c in ORDER_EVENTS},
    **{c.model_fields["type"].default: "inventory" for c in INVENTORY_EVENTS},
    **{c.model_fields["type"].default: "shipments" for c in SHIPMENT_EVENTS},
    **{c.model_fields["type"].default: "plans" for c in PLAN_EVENTS},
    **{c.model_fields["type"].default: "corrections" for c in CORRECTION_EVENTS},
}


class UnknownEventType(ValueError):
    """The record's ``type`` names no event OrderHub knows."""

    def __init__(self, type_name: object) -> None:
        known = ", ".join(sorted(EVENT_TYPES))
        super().__init__(f"unknown event type {type_name!r}; known types: {known}")
        self.type_name = type_name


def parse_event(data: Any) -> Event:
    """Validate a decoded JSON record into its typed event.

    Raises ``UnknownEventType`` when ``type`` is missing or unknown, and
    ``pydantic.ValidationError`` when the fields do not fit the type.
    """
    type_name = data.get("type") if isinstance(data, dict) else None
    cls = EVENT_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise UnknownEventType(type_name)
    return cls.model_validate(data)


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of every event type, for integrators (``orderhub schema``)."""
    union = Union[ALL_EVENTS]  # type: ignore[valid-type]  # noqa: UP007 - a runtime tuple
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[union, Field(discriminator="type")])
    return adapter.json_schema()


# --- alerts ------------------------------------------------------------------------------

Severity = Literal["info", "warning", "critical"]


class Penalty(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: Money
    currency: Literal["CNY"] = "CNY"
    who: str = Field(description="who is accountable, e.g. 'region_manager' or a clerk's id")


class Alert(BaseModel):
    """A rule violation as published on the alerts topic.

    ``fingerprint`` is stable for (rule, business key) so that consumers de-duplicate;
    ``status`` goes ``firing`` → ``resolved`` when the condition clears.
    """

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    rule_id: str
    rule_name: str
    severity: Severity
    status: Literal["firing", "resolved"]
    key: dict[str, str] = Field(description="business key: order_id, region, model as apply")
    labels: dict[str, str] = Field(default_factory=dict)
    message: str
    values: dict[str, Any] = Field(default_factory=dict)
    triggered_by: list[str] = Field(default_factory=list, description="event ids")
    at: datetime = Field(description="event or clock time the alert was raised or resolved")
    source: str = Field("", description="rule file:line")
    penalty: Penalty | None = None
    rule_set: str | None = Field(
        None, description="version of the rule files that made the alert (a content hash)"
    )
