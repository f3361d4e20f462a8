"""What names mean: event types and fields, the order record, tables, key names, types.

Event fields are read from the pydantic models of ``contract.events`` (pure schema), so a
field added there is known to the rule language at once. Table names map onto the methods
of ``streams.core.state.StateView``.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime

from contract import events as m

# The types of the language (docs/design/language.md, "Types and units").
NUMBER = "number"
MONEY = "money"
PERCENT = "percent"
DURATION = "duration"
BUSINESS_DURATION = "business duration"
TIME = "time"
DATE = "date"
TIME_OF_DAY = "time_of_day"
BOOL = "bool"
TEXT = "text"
WEEKDAY = "weekday"
MONTH = "month"
TEXT_SET = "set<text>"
UNKNOWN = "?"  # the type of an expression that already has an error: no follow-up errors


@dataclass(frozen=True)
class Ty:
    """A type; ``optional`` values may be missing at run time; ``choices`` for enum texts."""

    name: str
    optional: bool = False
    choices: frozenset[str] = frozenset()

    def required(self) -> Ty:
        return Ty(self.name)


KEY_NAMES: tuple[str, ...] = ("order_id", "region", "model")
WEEKDAYS: dict[str, int] = {
    d: i for i, d in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
}
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
EVENT_TYPES: dict[str, type[m.Event]] = dict(m.EVENT_TYPES)

# Fields whose Python type does not say what they mean.
_FIELD_OVERRIDES: dict[str, Ty] = {
    "month": Ty(MONTH),  # plan.monthly: "2026-12"
    "percent_done": Ty(NUMBER),  # 0..100, not a fraction
}


def _ty(annotation: Any) -> Ty:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner = _ty(args[0]) if len(args) == 1 else Ty(UNKNOWN)
        return replace(inner, optional=True)
    if origin is Literal:
        return Ty(TEXT, choices=frozenset(str(a) for a in get_args(annotation)))
    if origin is Annotated:
        return _ty(get_args(annotation)[0])
    simple: list[tuple[Any, str]] = [
        (bool, BOOL),
        (int, NUMBER),
        (Decimal, MONEY),
        (str, TEXT),
        (AwareDatetime, TIME),
        (datetime, TIME),
        (date, DATE),
    ]
    for cls, name in simple:
        if annotation is cls:
            return Ty(name)
    return Ty(UNKNOWN)


@functools.cache
def event_fields(type_name: str) -> Mapping[str, Ty]:
    """The fields of one event type as the language sees them (`time` is `event_time`).

    Kept once per type (read-only): the checker asks for every rule, and reading a model's
    annotations was a fifth of a large file's check."""
    model = EVENT_TYPES[type_name]
    fields = {
        name: _FIELD_OVERRIDES.get(name, _ty(info.annotation))
        for name, info in model.model_fields.items()
    }
    fields["time"] = Ty(TIME)
    return MappingProxyType(fields)


def has_order(type_name: str) -> bool:
    return "order_id" in EVENT_TYPES[type_name].model_fields


# --- the order record (streams.core.state.new_order) --------------------------------------------

STEPS: tuple[str, ...] = tuple(
    sorted(m.step_name(t) for t, cls in m.EVENT_TYPES.items() if issubclass(cls, m.OrderKeyed))
)
ORDER_FIELDS: dict[str, Ty] = {
    "order_id": Ty(TEXT),
    "region": Ty(TEXT),
    "model": Ty(TEXT),
    "amount": Ty(MONEY),
    "quantity": Ty(NUMBER),
    "deposit_paid": Ty(MONEY),
    "paid": Ty(MONEY),
    "special": Ty(BOOL),
    "priority": Ty(TEXT, choices=frozenset({"low", "normal", "high", "urgent"})),
    "promised_date": Ty(DATE, optional=True),
    "status": Ty(TEXT, choices=frozenset({"open", "rejected", "cancelled", "delivered"})),
    "in_transit": Ty(NUMBER),
    "delivered": Ty(NUMBER),
    "approvals": Ty(TEXT_SET),
    "signatures": Ty(TEXT_SET),
    "clerk": Ty(TEXT, optional=True),
    "last_step": Ty(TEXT, optional=True),
    "last_step_at": Ty(TIME, optional=True),
    **{f"{step}_at": Ty(TIME, optional=True) for step in STEPS},
}


# --- tables (streams.core.state.StateView) --------------------------------------------------------


@dataclass(frozen=True)
class Table:
    method: str  # the StateView method
    keys: tuple[str, ...]  # what each key is, for messages: "region", "model"


TABLES: dict[str, Table] = {
    "in_transit.region": Table("in_transit_region", ("region",)),
    "in_transit.model": Table("in_transit_model", ("model",)),
    "in_transit.region_model": Table("in_transit_region_model", ("region", "model")),
    "forecast.region": Table("forecast_region", ("region",)),
    "forecast.model": Table("forecast_model", ("model",)),
    "forecast.region_model": Table("forecast_region_model", ("region", "model")),
    "stock.on_hand": Table("stock_on_hand", ("model",)),
    "stock.reasonable": Table("stock_reasonable", ("model",)),
    "stock.upper_limit": Table("stock_upper_limit", ("model",)),
    "region.reasonable_stock": Table("region_reasonable_stock", ("region",)),
}

# signed_by(ROLE, DOCUMENT): the literals of OrderSignedOff.
ROLES: tuple[str, ...] = tuple(sorted(event_fields("order.signed_off")["role"].choices))
DOCUMENTS: tuple[str, ...] = tuple(sorted(event_fields("order.signed_off")["document"].choices))
