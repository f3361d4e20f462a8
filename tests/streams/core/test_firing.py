"""The alerts firing now, read from the engine's state the one way the worker's /alerts/
views read it. Fed by the real engine, so a change of how it keeps what fires shows here."""

from __future__ import annotations

from typing import Any

from streams.core.firing import firing_alert, firing_alerts
from tests.streams.core.engine_rules import Run, at, cap_rule, event, order_event


def entered(eid: str, qty: int, oid: str, day: int) -> Any:
    return order_event(eid, "order.entered", at(day), oid=oid, quantity=qty, amount="1000")


def test_the_firing_alerts_are_those_fired_and_not_resolved_oldest_first() -> None:
    run = Run(cap_rule())
    run.send(event("l1", "inventory.region_limits", at(1), region="east", reasonable_stock=100))
    [late] = run.send(entered("e1", 120, "O1", day=3))
    [early] = run.send(entered("e2", 130, "O2", day=2))
    [gone] = run.send(entered("e3", 140, "O3", day=4))
    [resolved] = run.send(entered("e4", 10, "O3", day=5))
    assert resolved.status == "resolved" and resolved.fingerprint == gone.fingerprint

    table = run.tables["rule_alerts"]
    published = [early.model_dump(mode="json"), late.model_dump(mode="json")]
    assert firing_alerts(table.items()) == published  # by event time, not firing order
    assert firing_alert(table, late.fingerprint) == published[1]
    assert firing_alert(table, gone.fingerprint) is None  # resolved: the engine forgot it
    assert firing_alert(table, "no-such-fingerprint") is None
