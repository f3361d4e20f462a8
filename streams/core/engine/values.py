"""Alert values as JSON-safe data, for people and for dashboards alike.

Decimals (money, percent) are exact decimal strings (``"300"``, ``"0.3"``); durations are
texts in the rule language's own units (``"8d 2h 30min"``); times and dates are ISO-8601;
sets are sorted lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from contract.events import Event


def duration_text(span: timedelta) -> str:
    """A duration in the rule language's units: ``"8d 2h 30min"``, ``"45s"``, ``"0min"``."""
    if span < timedelta(0):
        return "-" + duration_text(-span)
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    if seconds or not parts:
        parts.append(f"{seconds}s" if seconds else "0min")
    return " ".join(parts)


def decimal_text(value: Decimal) -> str:
    """An exact decimal without exponent or trailing zeros: ``"300"``, ``"0.3"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def json_value(value: Any) -> Any:
    """``value`` as JSON-safe data (see the module docstring for the choices)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, timedelta):
        return duration_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, set | frozenset):
        return sorted(json_value(v) for v in value)
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def event_numbers(event: Event | None) -> dict[str, Any]:
    """The event's numbers (quantities, amounts) as alert values ``event.FIELD``."""
    if event is None:
        return {}
    numbers: dict[str, Any] = {}
    for name, value in event:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            numbers[f"event.{name}"] = json_value(value)
    return numbers
