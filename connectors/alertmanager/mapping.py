"""An OrderHub ``Alert`` as an Alertmanager v2 alert (``POST /api/v2/alerts``). Pure.

Alertmanager identifies an alert by its label set, so the labels hold what names the alert
(rule, key, fingerprint) and never what changes while it fires (numbers go to annotations).
Its times are wall-clock times; an alert's ``at`` is event time, which may lie in the
future of this machine's clock (a skewed ERP), so start and end are clamped to ``now``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contract.events import Alert

# Key fields that become labels of their own, for routing and grouping by region.
KEY_LABELS = ("region", "model", "order_id")
# Labels the sink sets; a rule label of the same name cannot override them.
OWN_LABELS = ("alertname", "severity", *KEY_LABELS, "fingerprint")
_NOT_IN_A_NAME = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class Notice:
    """One alert to tell Alertmanager about: its latest record and since when it fires."""

    alert: Alert
    since: datetime  # the first firing's ``at``: Alertmanager's startsAt


def label_name(name: str) -> str:
    """``name`` as a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)."""
    cleaned = _NOT_IN_A_NAME.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def label_set(alert: Alert) -> dict[str, str]:
    """alertname = rule id, severity, region/model/order_id (those in the key), the
    fingerprint (a rule's tiers or periods share a key but are alerts of their own), then
    the rule's labels. Empty values are left out, as Alertmanager drops them anyway."""
    found = {label_name(name): value for name, value in alert.labels.items()}
    found.update(
        alertname=alert.rule_id,
        severity=alert.severity,
        fingerprint=alert.fingerprint,
        **{name: alert.key[name] for name in KEY_LABELS if name in alert.key},
    )
    return {name: value for name, value in found.items() if value}


def annotation_set(alert: Alert) -> dict[str, str]:
    """The message (``summary``), the numbers that made the rule fire and where it comes from."""
    notes = {
        "summary": alert.message,
        "rule_name": alert.rule_name,
        "values": json.dumps(alert.values, ensure_ascii=False, sort_keys=True, default=str),
        "source": alert.source,
        "rule_set": alert.rule_set or "",
        "triggered_by": ", ".join(alert.triggered_by),
        "at": alert.at.isoformat(),
    }
    if alert.penalty is not None:
        p = alert.penalty
        notes["penalty"] = f"{p.amount} {p.currency} ({p.who})"
    return {name: text for name, text in notes.items() if text}


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_alertmanager(
    notice: Notice, now: datetime, ahead: timedelta, generator_base: str
) -> dict[str, Any]:
    """The v2 alert for ``notice``, pushed at ``now``.

    Firing: ``endsAt`` is ``now + ahead``, as Prometheus sets it (4 × its resend delay), so
    an alert the sink stops re-sending (the sink is gone) resolves by itself, and one it
    re-sends never does. Resolved: ``endsAt`` is when it resolved, at most ``now``, so
    Alertmanager takes it as resolved at once.
    """
    alert = notice.alert
    starts = min(notice.since, now)
    body: dict[str, Any] = {
        "labels": label_set(alert),
        "annotations": annotation_set(alert),
        "startsAt": rfc3339(starts),
        "generatorURL": f"{generator_base.rstrip('/')}/alerts/{alert.fingerprint}",
    }
    if alert.status == "resolved":
        body["endsAt"] = rfc3339(max(starts, min(alert.at, now)))
    else:
        body["endsAt"] = rfc3339(now + ahead)
    return body


def generator_base(host: str, port: int) -> str:
    """The worker's web address (``ORDERHUB_WEB_HOST``, ``ORDERHUB_WEB_PORT``)."""
    return f"http://{host}:{port}"
