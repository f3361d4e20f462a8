"""The alerts firing now, read from the rule engine's state. Pure.

The engine keeps what fires in its ``rule_alerts`` table, one typed entry per alert while it
fires (``streams.core.engine.state``: ``FiringAlert`` and its codec). Every reader outside the
engine (the worker's ``/alerts/`` views, hence ``orderhub alerts list`` and the Alertmanager
sink's ``generatorURL``) goes through the two functions here, which read through that codec.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from streams.core.engine.state import FiringAlert, StateError, decode_alert


def _firing(entry: Any) -> FiringAlert | None:
    """The firing alert an entry of ``rule_alerts`` holds; None for an old entry of a
    resolved alert, or one that does not decode (the engine drops it when it next reads it)."""
    if not isinstance(entry, Mapping):
        return None
    try:
        return decode_alert(entry)
    except StateError:
        return None


def firing_alerts(rule_alerts: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Every alert firing now, as published on the alerts topic (JSON), oldest first (by
    ``at``, then fingerprint). ``rule_alerts`` is the table's ``items()``."""
    found = [f.alert for _fp, entry in rule_alerts if (f := _firing(entry)) is not None]
    found.sort(key=lambda alert: (alert.at, alert.fingerprint))
    return [alert.model_dump(mode="json") for alert in found]


def firing_alert(rule_alerts: Mapping[str, Any], fingerprint: str) -> dict[str, Any] | None:
    """The alert of ``fingerprint`` when it fires now, else None (resolved or unknown: the
    engine forgets an alert once it resolves)."""
    firing = _firing(rule_alerts.get(fingerprint))
    return None if firing is None else firing.alert.model_dump(mode="json")
