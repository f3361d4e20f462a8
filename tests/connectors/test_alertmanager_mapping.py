"""An OrderHub alert as Alertmanager sees it: labels to route by, annotations to read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.alertmanager.mapping import Notice, label_name, to_alertmanager
from contract.events import Alert

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
AHEAD = timedelta(minutes=4)
BASE = "http://hub.example:6066"


def alert(**changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "fingerprint": "382532c7acdffc77",
        "rule_id": "CAP-1",
        "rule_name": "Region demand within its cap",
        "severity": "critical",
        "status": "firing",
        "key": {"region": "east", "order_id": "O1"},
        "labels": {"policy": "关键控制点"},
        "message": "Region east: demand 60 ≥ cap 50",
        "values": {"cap": 50, "event.quantity": 60, "event.amount": "1000"},
        "triggered_by": ["erp-7731"],
        "at": "2026-11-02T10:00:00+08:00",
        "source": "rules/caps.rule:13",
        "rule_set": "3f9c1a0b7d2e",
    }
    return Alert.model_validate({**fields, **changes})


def test_a_firing_alert_is_named_by_rule_and_key_and_ends_ahead_of_now() -> None:
    a = alert()
    body = to_alertmanager(Notice(a, a.at), NOW, AHEAD, BASE)
    assert body["labels"] == {
        "alertname": "CAP-1",
        "severity": "critical",
        "region": "east",
        "order_id": "O1",
        "fingerprint": "382532c7acdffc77",
        "policy": "关键控制点",
    }
    assert body["startsAt"] == "2026-11-02T02:00:00Z"
    assert body["endsAt"] == "2026-12-01T08:04:00Z"
    assert body["generatorURL"] == "http://hub.example:6066/alerts/382532c7acdffc77"
    notes = body["annotations"]
    assert notes["summary"] == "Region east: demand 60 ≥ cap 50"
    assert json.loads(notes["values"]) == {"cap": 50, "event.amount": "1000", "event.quantity": 60}
    assert notes["source"] == "rules/caps.rule:13"
    assert notes["rule_set"] == "3f9c1a0b7d2e"
    assert notes["triggered_by"] == "erp-7731"
    assert "penalty" not in notes


def test_a_resolved_alert_keeps_its_start_and_ends_when_it_resolved() -> None:
    first = alert()
    resolved = alert(status="resolved", at="2026-11-02T10:30:00+08:00")
    body = to_alertmanager(Notice(resolved, first.at), NOW, AHEAD, BASE)
    assert (body["startsAt"], body["endsAt"]) == ("2026-11-02T02:00:00Z", "2026-11-02T02:30:00Z")


def test_event_times_ahead_of_the_clock_are_clamped_so_alertmanager_takes_them() -> None:
    future = alert(at="2027-01-01T00:00:00+00:00")
    firing = to_alertmanager(Notice(future, future.at), NOW, AHEAD, BASE)
    assert firing["startsAt"] == "2026-12-01T08:00:00Z"  # not after endsAt
    resolved = alert(status="resolved", at="2027-01-02T00:00:00+00:00")
    body = to_alertmanager(Notice(resolved, future.at), NOW, AHEAD, BASE)
    assert body["startsAt"] == body["endsAt"] == "2026-12-01T08:00:00Z"  # resolved now


def test_the_penalty_and_every_key_field_are_there_and_rule_labels_cannot_rename_it() -> None:
    a = alert(
        rule_id="DEP-3",
        key={"order_id": "SP-1", "region": "south", "model": "X200"},
        labels={"severity": "info", "alertname": "x", "team-name": "sales", "empty": ""},
        penalty={"amount": "200.00", "who": "region manager"},
    )
    body = to_alertmanager(Notice(a, a.at), NOW, AHEAD, BASE)
    assert body["labels"] == {
        "alertname": "DEP-3",
        "severity": "critical",
        "order_id": "SP-1",
        "region": "south",
        "model": "X200",
        "fingerprint": "382532c7acdffc77",
        "team_name": "sales",
    }
    assert body["annotations"]["penalty"] == "200.00 CNY (region manager)"


def test_label_names_are_made_valid_for_prometheus() -> None:
    assert [label_name(n) for n in ("policy", "team-name", "2nd", "区域")] == [
        "policy",
        "team_name",
        "_2nd",
        "__",
    ]
