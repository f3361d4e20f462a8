"""The alerts firing now, read from the rule engine's state. Pure.

The engine keeps what fires in its ``rule_alerts`` table (``streams.core.engine``); how it
keeps it is the engine's business and may change. Every reader outside the engine (the
worker's ``/alerts/`` views, hence ``orderhub alerts list`` and the Alertmanager sink's
``generatorURL``) goes through the two functions here, so a change of that representation
is a change in this one module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

_NEVER = datetime.min.replace(tzinfo=UTC)


def _alert_of(entry: Any) -> dict[str, Any] | None:
    """The alert an entry of ``rule_alerts`` holds, as published (JSON), when it fires."""
    if not isinstance(entry, Mapping) or entry.get("status") != "firing":
        return None
    alert = entry.get("alert")
    return dict(alert) if isinstance(alert, Mapping) else None


def firing_alerts(rule_alerts: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Every alert firing now, as published on the alerts topic, oldest first (by ``at``,
    then fingerprint). ``rule_alerts`` is the table's ``items()``."""
    found = [alert for _fp, entry in rule_alerts if (alert := _alert_of(entry)) is not None]
    return sorted(found, key=lambda a: (_time(a.get("at")), str(a.get("fingerprint", ""))))


def _time(value: Any) -> datetime:
    """An alert's ``at`` as a time (times in different offsets compare as instants)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return _NEVER
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def firing_alert(rule_alerts: Mapping[str, Any], fingerprint: str) -> dict[str, Any] | None:
    """The alert of ``fingerprint`` when it fires now, else None (resolved or unknown: the
    engine forgets an alert once it resolves)."""
    return _alert_of(rule_alerts.get(fingerprint))
