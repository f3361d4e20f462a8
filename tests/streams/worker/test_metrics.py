"""The worker's metrics: what the collector reads from the tables, what the shell counts."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contract.events import Event, parse_event
from streams.core.state import Tables, empty_tables
from streams.worker.durable import ChangelogWrites
from streams.worker.judging import Judging
from streams.worker.metrics import (
    MeasuredHook,
    WorkerMetrics,
    firing_now,
    pending_timers,
    reason_of,
    split_tp,
)
from streams.worker.rulehook import LiveRules
from tests.streams.worker.test_judging import EVENTS, Broker, InTransitCap, no_error

REPO = Path(__file__).resolve().parents[3]


def sample(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class FailingOnce(ChangelogWrites):
    """Once armed, the broker does not acknowledge the next journal write: the worker
    fails after the alerts went out and before the commit."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False

    async def settle(self) -> None:
        if self.armed:
            self.armed = False
            raise ConnectionError("broker away")
        await super().settle()


def test_alerts_are_counted_once_when_an_event_is_judged_again_after_a_failed_commit() -> None:
    metrics, broker, hook, writes = WorkerMetrics(), Broker(), InTransitCap(), FailingOnce()
    j = Judging(empty_tables(), {}, writes, broker.send, committed=metrics.published)

    async def go() -> None:
        for seq, event in EVENTS[:2]:
            await j.event(hook, event, seq, no_error)
        writes.armed = True
        with pytest.raises(ConnectionError):
            await j.event(hook, EVENTS[2][1], 2, no_error)  # sent, not committed
        for seq, event in EVENTS[2:]:
            await j.event(hook, event, seq, no_error)  # seq 2 judged again, sent again

    asyncio.run(go())
    assert [a.values["in_transit"] for a in broker.sent] == [12, 12, 16, 20]  # on the topic
    # The counter says what replay says: three alerts, the repeat is not one.
    assert (
        sample(metrics, "orderhub_alerts_total", rule="CAP", severity="critical", status="firing")
        == 3
    )


def test_firing_now_counts_engine_alerts_and_open_rule_file_alerts_by_rule_and_severity() -> None:
    def entry(rule: str, severity: str) -> dict[str, Any]:
        return {"status": "firing", "seq": 1, "alert": {"rule_id": rule, "severity": severity}}

    engine = [entry("CAP-1", "critical"), entry("CAP-1", "critical"), entry("SLA-1", "warning")]
    load = [{"rule_id": "RULESET-LOAD", "severity": "critical"}]
    assert firing_now(engine, load) == {
        ("CAP-1", "critical"): 2,
        ("SLA-1", "warning"): 1,
        ("RULESET-LOAD", "critical"): 1,
    }


def test_pending_timers_counts_watches_and_finds_the_earliest_next_deadline() -> None:
    watches = [
        {"rule": "SLA-1", "next": "2026-03-02T10:00:00+08:00"},
        {"rule": "SLA-1", "next": "2026-03-02T09:30:00+08:00"},
        {"rule": "SLA-1", "next": None},  # every tier fired: still a watch
        {"rule": "DEP-2", "next": "2026-03-09T00:00:00+00:00"},
    ]
    found = pending_timers(watches)
    assert found["SLA-1"] == (3, datetime.fromisoformat("2026-03-02T09:30:00+08:00").timestamp())
    assert found["DEP-2"] == (1, 1773014400.0)  # 2026-03-09 00:00 UTC


def test_a_dead_letters_reason_is_read_from_its_json_and_garbage_is_unreadable() -> None:
    assert reason_of(b'{"reason": "not_json", "error": "x"}') == "not_json"
    assert reason_of(b"\xff\xfe") == "unreadable"
    assert reason_of(b"[1]") == "unreadable"
    assert reason_of(None) == "unreadable"
    assert split_tp("orderhub.orders[2]") == ("orderhub.orders", "2")


class Ticking:
    """A clock that moves 0.002 s a reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_the_measured_hook_times_each_call_and_counts_the_rules_an_event_concerns() -> None:
    rules = LiveRules(REPO / "rules")
    metrics = WorkerMetrics()
    hook = MeasuredHook(rules, metrics, timer=Ticking())
    assert {"CAP-1", "CAP-2", "SLA-1", "SLA-2"} <= set(rules.rules_for("order.entered"))
    tables: Tables = empty_tables()
    event = entered()
    assert hook.on_event(tables, event, 0) == rules.engine.on_event(empty_tables(), event, 0)
    assert sample(metrics, "orderhub_rule_evaluations_total", rule="CAP-1") == 1
    assert sample(metrics, "orderhub_rule_evaluations_total", rule="REL-1") is None
    assert sample(metrics, "orderhub_rule_evaluation_duration_seconds_count", call="event") == 1
    assert sample(
        metrics, "orderhub_rule_evaluation_duration_seconds_sum", call="event"
    ) == pytest.approx(0.001)
    assert hook.status() == rules.status()


def entered() -> Event:
    return parse_event(
        {"event_id": "e1", "type": "order.entered", "source": "erp",
         "event_time": "2026-03-02T09:00:00+08:00", "order_id": "O1", "region": "east",
         "model": "X1", "quantity": 3, "amount": "10"}
    )  # fmt: skip


def test_the_exposition_is_prometheus_text_with_the_counters_named_total() -> None:
    metrics = WorkerMetrics()
    metrics.event_in("orderhub.orders", "order.entered")
    metrics.dead_letter("not_json")
    text = metrics.exposition().decode()
    assert 'orderhub_events_total{topic="orderhub.orders",type="order.entered"} 1.0' in text
    assert 'orderhub_dead_letters_total{reason="not_json"} 1.0' in text
    assert "_created" not in text
    assert "# TYPE orderhub_alerts_total counter" in text
