"""The Alertmanager sink against a real Alertmanager and a real worker with the seed rules."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.alertmanager.clients import group_name
from contract.events import Alert
from streams.clients.kafka_io import committed_offsets, end_offsets
from tests.integration.alertmanager_harness import ORDERHUB, Alertmanager, Sink, binary, wait_for
from tests.integration.stream_harness import Worker, lines

REPO = Path(__file__).resolve().parents[2]


def event(event_id: str, type_: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "event_time": at, "source": "erp", **fields}


def entered(event_id: str, order_id: str, at: str, quantity: int) -> dict[str, Any]:
    return event(
        event_id,
        "order.entered",
        at,
        order_id=order_id,
        region="east",
        model="M1",
        quantity=quantity,
        amount="1000",
    )


# rules/tests/caps.yaml's picture: region east's CAP-1 cap = 100 − 80 in transit + 30 = 50.
PICTURE = [
    event(
        "lim-east",
        "inventory.region_limits",
        "2026-11-01T07:00:00+08:00",
        region="east",
        reasonable_stock=100,
    ),
    event(
        "lim-M1",
        "inventory.model_limits",
        "2026-11-01T07:00:00+08:00",
        model="M1",
        reasonable_stock=120,
        upper_limit=200,
    ),
    event(
        "fc-east",
        "plan.forecast",
        "2026-11-01T07:00:00+08:00",
        region="east",
        model="M1",
        week_start="2026-11-02",
        quantity=30,
    ),
    event(
        "O0-confirmed",
        "order.confirmed",
        "2026-11-01T08:00:00+08:00",
        order_id="O0",
        region="east",
        model="M1",
        quantity=80,
        amount="8000",
    ),
]


@pytest.fixture
def worker(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Worker]:
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(REPO / "rules"))
    w = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    w.start()
    yield w
    w.stop()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path / "alertmanager")
    am.start()
    yield am
    am.stop()


def by_alertname(am: Alertmanager, name: str) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["labels"]["alertname"] == name]


def test_a_cap_1_alert_appears_in_alertmanager_and_leaves_it_when_resolved(
    worker: Worker, alertmanager: Alertmanager
) -> None:
    # Re-sent every 30 s, a firing alert ends 2 min ahead: leaving within 60 s is the
    # sink's explicit resolution, not a time-out.
    sink = Sink(worker, [alertmanager.url], resend_interval=30)
    sink.start()
    try:
        worker.publish(lines([*PICTURE, entered("O1-e1", "O1", "2026-11-02T10:00:00+08:00", 60)]))
        found = wait_for(
            lambda: by_alertname(alertmanager, "CAP-1"), 60, "CAP-1 in Alertmanager", sink.log_tail
        )
        [hub] = [
            Alert.model_validate_json(r.value)
            for r in worker.read(worker.topics.alerts, count=1, timeout=30)
            if json.loads(r.value)["rule_id"] == "CAP-1"
        ]
        [am] = found
        assert am["labels"] == {
            "alertname": "CAP-1",
            "severity": "critical",
            "region": "east",
            "order_id": "O1",
            "fingerprint": hub.fingerprint,
            "department": "sales",
            "policy": "关键控制点",
        }
        notes = am["annotations"]
        assert notes["summary"] == hub.message
        assert "demand 60 ≥ cap 50" in notes["summary"]
        assert json.loads(notes["values"])["cap"] == 50
        assert notes["source"].endswith("caps.rule:13")
        assert notes["rule_set"] == hub.rule_set
        assert am["generatorURL"] == f"http://127.0.0.1:{worker.port}/alerts/{hub.fingerprint}"
        assert am["status"]["state"] == "active"

        # A corrected entry below the cap resolves it: it leaves the active alerts.
        worker.publish(lines([entered("O1-e2", "O1", "2026-11-02T10:30:00+08:00", 40)]))
        wait_for(
            lambda: not by_alertname(alertmanager, "CAP-1"),
            60,
            "CAP-1 resolved in Alertmanager",
            sink.log_tail,
        )
        # Alertmanager lists no resolved alert, whatever the filter: it has ended.
        assert not [
            a for a in alertmanager.alerts(active=False) if a["labels"]["alertname"] == "CAP-1"
        ]
        statuses = [
            json.loads(r.value)["status"]
            for r in worker.read(worker.topics.alerts, count=2, timeout=30)
            if json.loads(r.value)["rule_id"] == "CAP-1"
        ]
        assert statuses == ["firing", "resolved"]
    finally:
        sink.stop()


def firing_now(worker: Worker, count: int) -> dict[str, Alert]:
    """The hub's alerts firing now: the alerts topic's first ``count`` records, folded."""
    firing: dict[str, Alert] = {}
    for record in worker.read(worker.topics.alerts, count=count, timeout=60):
        alert = Alert.model_validate_json(record.value)
        if alert.status == "firing":
            firing[alert.fingerprint] = alert
        else:
            firing.pop(alert.fingerprint, None)
    return firing


def active(am: Alertmanager) -> dict[str, dict[str, Any]]:
    return {a["labels"]["fingerprint"]: a for a in am.alerts()}


def sink_offset(worker: Worker) -> int | None:
    topic = worker.topics.alerts
    found = committed_offsets(worker.settings, worker.bootstrap, group_name(worker.prefix), [topic])
    return found.get(f"{topic}[0]")


def alerts_end(worker: Worker) -> int:
    topic = worker.topics.alerts
    return end_offsets(worker.settings, worker.bootstrap, [topic])[f"{topic}[0]"]


def test_alertmanager_away_for_30_s_gets_every_firing_alert_and_no_resolved_one_back(
    worker: Worker, alertmanager: Alertmanager
) -> None:
    sink = Sink(worker, [alertmanager.url], resend_interval=2)
    sink.start()
    try:
        before = [
            entered("O1-e1", "O1", "2026-11-02T10:00:00+08:00", 60),
            entered("O2-e1", "O2", "2026-11-02T10:05:00+08:00", 70),
            entered("O3-e1", "O3", "2026-11-02T10:10:00+08:00", 55),
        ]
        worker.publish(lines([*PICTURE, *before]))
        # INV-1 fires too: O0 is confirmed with no stock of M1 on record.
        wait_for(lambda: len(active(alertmanager)) == 4, 60, "4 alerts", sink.log_tail)
        wait_for(lambda: sink_offset(worker) == 4, 30, "the sink's commit", sink.log_tail)

        alertmanager.stop()
        stopped = time.monotonic()
        # While it is away: O2 and O5 resolve (corrected entries), O4 and O5 fire.
        worker.publish(
            lines(
                [
                    entered("O2-e2", "O2", "2026-11-02T11:00:00+08:00", 40),
                    entered("O4-e1", "O4", "2026-11-02T11:05:00+08:00", 65),
                    entered("O5-e1", "O5", "2026-11-02T11:10:00+08:00", 80),
                    entered("O5-e2", "O5", "2026-11-02T11:15:00+08:00", 10),
                ]
            )
        )
        worker.caught_up()
        wait_for(lambda: alerts_end(worker) == 8, 60, "the hub's 8 alerts")
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
        # Nothing was pushed, so nothing past the 4 first alerts is committed.
        assert sink_offset(worker) == 4

        alertmanager.start()  # an empty Alertmanager: it keeps no alerts over a restart
        hub = firing_now(worker, 8)
        assert sorted((a.rule_id, a.key["order_id"]) for a in hub.values()) == [
            ("CAP-1", "O1"),
            ("CAP-1", "O3"),
            ("CAP-1", "O4"),
            ("INV-1", "O0"),
        ]
        got = wait_for(
            lambda: (found := active(alertmanager)).keys() == hub.keys() and found,
            60,
            "the hub's firing alerts in Alertmanager again",
            sink.log_tail,
        )
        for fp, alert in hub.items():
            assert got[fp]["labels"]["order_id"] == alert.key["order_id"]
            assert got[fp]["annotations"]["summary"] == alert.message
        wait_for(lambda: sink_offset(worker) == 8, 30, "the sink's commit after the outage")
        # Re-sent every 2 s and still firing a while later; the resolved ones stay away.
        time.sleep(10)
        assert active(alertmanager).keys() == hub.keys()
    finally:
        sink.stop()


def test_a_killed_sink_rebuilds_the_firing_alerts_for_an_empty_alertmanager(
    worker: Worker, alertmanager: Alertmanager
) -> None:
    """Killed, then started against an Alertmanager that lost everything: the alerts that
    fired before its last commit come from its state topic, the rest from the alerts topic."""
    sink = Sink(worker, [alertmanager.url], resend_interval=2)
    sink.start()
    try:
        worker.publish(
            lines(
                [
                    *PICTURE,
                    entered("O1-e1", "O1", "2026-11-02T10:00:00+08:00", 60),
                    entered("O2-e1", "O2", "2026-11-02T10:05:00+08:00", 70),
                ]
            )
        )
        wait_for(lambda: len(active(alertmanager)) == 3, 60, "3 alerts", sink.log_tail)
        wait_for(lambda: sink_offset(worker) == 3, 30, "the sink's commit", sink.log_tail)
        sink.kill()
        worker.publish(
            lines(
                [
                    entered("O2-e2", "O2", "2026-11-02T11:00:00+08:00", 40),
                    entered("O3-e1", "O3", "2026-11-02T11:05:00+08:00", 55),
                ]
            )
        )
        worker.caught_up()
        wait_for(lambda: alerts_end(worker) == 5, 60, "the hub's 5 alerts")
        alertmanager.stop()
        alertmanager.start()
        assert active(alertmanager) == {}

        sink.start()
        hub = firing_now(worker, 5)
        assert sorted((a.rule_id, a.key["order_id"]) for a in hub.values()) == [
            ("CAP-1", "O1"),
            ("CAP-1", "O3"),
            ("INV-1", "O0"),
        ]
        wait_for(
            lambda: active(alertmanager).keys() == hub.keys(),
            60,
            "the firing alerts after the sink's restart",
            sink.log_tail,
        )
        wait_for(lambda: sink_offset(worker) == 5, 30, "the sink's commit after its restart")
    finally:
        sink.stop()


def test_kcat_reads_the_same_alerts_as_orderhub(worker: Worker) -> None:
    """Integrators read the alerts topic with a plain Kafka client: kcat -J gives each
    record's payload, which is the very alert `orderhub alerts tail` prints."""
    kcat = binary("kcat")
    worker.publish(
        lines(
            [
                *PICTURE,
                entered("O1-e1", "O1", "2026-11-02T10:00:00+08:00", 60),
                entered("O1-e2", "O1", "2026-11-02T10:30:00+08:00", 40),
                entered("O2-e1", "O2", "2026-11-02T10:40:00+08:00", 51),
            ]
        )
    )
    worker.caught_up()
    wait_for(lambda: alerts_end(worker) == 4, 60, "the hub's 4 alerts")
    topic = worker.topics.alerts
    out = subprocess.run(
        [kcat, "-C", "-b", worker.bootstrap, "-t", topic, "-e", "-J", "-q"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    envelopes = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [(e["topic"], e["partition"], e["offset"]) for e in envelopes] == [
        (topic, 0, offset) for offset in range(4)
    ]
    by_kcat = [Alert.model_validate_json(e["payload"]) for e in envelopes]

    tail = subprocess.run(
        [*ORDERHUB, "alerts", "tail", "--from-beginning", "--seconds", "8", "--format", "jsonl"],
        env=worker.env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    by_orderhub = [Alert.model_validate_json(line) for line in tail.splitlines() if line.strip()]

    def identity(a: Alert) -> tuple[str, str, str]:
        return (a.fingerprint, a.status, a.at.isoformat())

    assert sorted(by_kcat, key=identity) == sorted(by_orderhub, key=identity)
    assert sorted((a.rule_id, a.key.get("order_id"), a.status) for a in by_kcat) == [
        ("CAP-1", "O1", "firing"),
        ("CAP-1", "O1", "resolved"),
        ("CAP-1", "O2", "firing"),
        ("INV-1", "O0", "firing"),
    ]
    cap = next(a for a in by_kcat if a.rule_id == "CAP-1")
    assert cap.labels == {"department": "sales", "policy": "关键控制点"}  # UTF-8 intact
