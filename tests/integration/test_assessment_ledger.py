"""The live assessment ledger equals the ledger made offline from replay's alerts.

A month (November 2026) of orders, delays, plans and one analyst's void goes through a
live worker that is SIGKILLed mid-month. The ledger the worker serves
(``/assessment/ledger``) and the compacted ``<prefix>.assessment`` topic must hold exactly
the entries ``streams.core.assessment.ledger`` makes of ``orderhub replay``'s alerts of the
same events: none twice, none missing, the same fields (region, department, fine, void).
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaConsumer, TopicPartition

from contract.events import AssessmentVoid, parse_event
from streams.clients.kafka_io import client_config
from streams.core.assessment.ledger import Ledger, encode, ledger_from_alerts, regions_of
from tests.integration.busy_week import RULES, replayed
from tests.integration.stream_harness import Worker, lines
from tests.integration.test_exact_alerts import read_alerts
from tests.integration.test_recovery import wait_for_events

pytestmark = pytest.mark.integration

TZ = timezone(timedelta(hours=8))
REGIONS = ("north", "east", "south")
MODELS = ("X100", "X200")
ZONE = ZoneInfo("Asia/Shanghai")


def month_of_events(seed: int = 10, per_day: int = 10) -> list[dict[str, Any]]:
    """November 2026: each weekday ``per_day`` orders (some late steps: SLA-1/2; some
    delayed by an unreleased sales order: REL-2, 50 CNY to the clerk), daily shipping plan
    lines, December's plans (south's missing: PLAN-1 fines it 100 CNY on the 20th)."""
    rng = random.Random(seed)
    out: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(at: datetime, event_id: str, type_: str, **fields: Any) -> None:
        record = {"event_id": event_id, "type": type_, "event_time": at.isoformat()}
        out.append((at, len(out), {**record, "source": "erp", **fields}))

    first = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)
    for region in REGIONS:
        add(first, f"rl-{region}", "inventory.region_limits", region=region, reasonable_stock=900)
    for model in MODELS:
        limits = {"reasonable_stock": 300, "upper_limit": 900}
        add(first, f"ml-{model}", "inventory.model_limits", model=model, **limits)
    days = [
        first + timedelta(days=d) for d in range(29) if (first + timedelta(days=d)).weekday() < 5
    ]
    for day in days:
        week = (day - timedelta(days=day.weekday())).date().isoformat()
        for region in REGIONS:
            add(
                day.replace(hour=7),
                f"pl-{day:%m%d}-{region}",
                "plan.daily",
                region=region,
                model=rng.choice(MODELS),
                week_start=week,
                day=day.date().isoformat(),
                quantity=rng.randint(10, 50),
                compiled_by="李明",
                reviewed_by="王芳",
                approved_by="赵总",
            )
        for n in range(per_day):
            _order(
                add,
                rng,
                f"M-{day:%m%d}-{n:02d}",
                day.replace(hour=9) + timedelta(minutes=rng.randint(0, 420)),
            )
    for region, at in (
        ("north", "2026-11-18T10:00:00+08:00"),
        ("east", "2026-11-20T14:00:00+08:00"),
    ):
        t = datetime.fromisoformat(at)
        add(
            t,
            f"mp-{region}",
            "plan.monthly",
            region=region,
            month="2026-12",
            model="X100",
            quantity=300,
        )
    # South sends no plan at all. (A late one is no test of the ledger: the live engine
    # counts a late plan as in time when it arrives before a tick has passed the deadline,
    # replay does not — an engine difference reported to its owner.)
    # The end: far from every business deadline, so the live clock (which runs on in real
    # time) and replay's (which stops here) have fired the same.
    add(
        datetime(2026, 11, 30, 23, 0, tzinfo=TZ),
        "end",
        "inventory.stock_level",
        model="X100",
        on_hand=50,
    )
    out.sort(key=lambda item: (item[0], item[1]))
    return [record for _, _, record in out]


def _order(add: Any, rng: random.Random, oid: str, received: datetime) -> None:
    keys = {"order_id": oid, "region": rng.choice(REGIONS), "model": rng.choice(MODELS)}
    qty = rng.randint(5, 40)
    money = {"quantity": qty, "amount": f"{qty * 1000}.00"}
    add(received, f"{oid}-rcv", "order.received", **keys, **money)
    entered = received + timedelta(minutes=rng.choice([5, 20, 30, 120]))
    add(entered, f"{oid}-ent", "order.entered", **keys, **money)
    confirmed = entered + timedelta(minutes=rng.choice([10, 60, 100, 400]))
    add(confirmed, f"{oid}-cnf", "order.confirmed", **keys, **money)
    if rng.random() < 0.15:
        clerk = rng.choice(["clerk-zhang", "clerk-wu"])
        reason = {"cause": "sales_not_released", "clerk": clerk}
        add(confirmed + timedelta(hours=1), f"{oid}-dly", "order.delay_reported", **keys, **reason)
    add(confirmed + timedelta(hours=3), f"{oid}-dlv", "order.delivered", **keys, quantity=qty)


def with_void(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The month and, on its last day, an analyst's void of the first REL-2 fine."""
    ledger = offline(events)
    fined = next(e for e in ledger.select(zone=ZONE) if e.rule_id == "REL-2")
    void = {
        "event_id": "void-1",
        "type": "assessment.void",
        "event_time": "2026-11-30T22:00:00+08:00",
        "source": "analyst",
        "entry_id": fined.entry_id,
        "reason": "production had the order: the ERP lost the release",
        "by": "analyst-li",
    }
    return sorted([*events, void], key=lambda r: r["event_time"]), fined.entry_id


def offline(events: list[dict[str, Any]]) -> Ledger:
    parsed = [parse_event(r) for r in events]
    voids = [e for e in parsed if isinstance(e, AssessmentVoid)]
    return ledger_from_alerts(replayed(events), voids, regions=regions_of(parsed))


def read_assessment(worker: Worker) -> list[tuple[str, dict[str, Any]]]:
    consumer = KafkaConsumer(**client_config(worker.settings, worker.bootstrap))
    try:
        tp = TopicPartition(worker.topics.assessment, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        found: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + 60
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found.extend((r.key.decode(), json.loads(r.value)) for r in records)
        return found
    finally:
        consumer.close()


def live_entries(worker: Worker) -> dict[str, dict[str, Any]]:
    doc = worker.web.ledger()
    return {e["entry_id"]: e for e in doc["entries"]}


def test_the_live_ledger_after_a_sigkill_equals_the_offline_ledger(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(RULES))
    monkeypatch.setenv("ORDERHUB_REORDER_WINDOW", "5")
    monkeypatch.setenv("ORDERHUB_COMMIT_INTERVAL", "10")
    events, voided = with_void(month_of_events())
    expected = {e.entry_id: encode(e) for e in offline(events).entries.values()}
    rules = {e["rule_id"] for e in expected.values()}
    assert {"SLA-1", "SLA-2", "REL-2", "PLAN-1"} <= rules and len(expected) > 50
    assert expected[voided]["voided"] is True

    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    worker.start()
    try:
        worker.publish(lines(events))
        wait_for_events(worker, at_least=len(events) // 2)
        worker.kill()
        worker.start()
        worker.caught_up()
        deadline = time.monotonic() + 90
        live = live_entries(worker)
        while live != expected and time.monotonic() < deadline:
            time.sleep(2)
            live = live_entries(worker)
        missing = sorted(set(expected) - set(live))
        extra = sorted(set(live) - set(expected))
        differ = [k for k in set(live) & set(expected) if live[k] != expected[k]]
        detail = [(live[k], expected[k]) for k in differ[:2]]
        # Whether a missing entry's alert is on the alerts topic at all (else: the engine's).
        published = {a.fingerprint for a in read_alerts(worker) if a.status == "firing"}
        unpublished = [k for k in missing if expected[k]["fingerprint"] not in published]
        assert (missing, extra, differ) == ([], [], []), (
            len(live),
            len(expected),
            detail,
            unpublished,
        )
        # The topic: one key per entry, and each key's last record is the entry as it is.
        records = read_assessment(worker)
        latest = dict(records)
        assert latest == expected
        assert latest[voided]["void_reason"] == "production had the order: the ERP lost the release"
    finally:
        worker.stop()
