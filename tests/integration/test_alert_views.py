"""Readable views on a live worker: `alerts tail` (a table in event time), `alerts list`
(the worker's /alerts/ views) and `dlq tail | replay` against the dev broker.

The worker judges the demo week and then a late order dated before most of it, so the
alerts topic is not in event-time order and `alerts tail` has something to sort.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaProducer

from contract.events import Alert
from contract.settings import get_settings
from orderhub import views
from orderhub.cli import run as orderhub_run
from streams.clients.kafka_io import client_config
from streams.core.ingest import dead_letter
from streams.offline.replay import load_engine, run
from tests.integration.stream_harness import Worker
from tests.streams.offline.event_lines import read_events

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO = (REPO / "deploy" / "demo" / "events.jsonl").read_text(encoding="utf-8").splitlines()
LATE = {"source": "erp", "order_id": "SO-LATE-1", "region": "east", "model": "X100"}
LATE_ORDER = [
    json.dumps(e)
    for e in (
        {
            **LATE,
            "event_id": "SO-LATE-1-received",
            "type": "order.received",
            "event_time": "2026-10-22T09:00:00+08:00",
            "quantity": 1,
            "amount": "600000",
        },
        {
            **LATE,
            "event_id": "SO-LATE-1-scheduled",
            "type": "order.scheduled",
            "event_time": "2026-10-22T10:00:00+08:00",
        },
    )
]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def published(alert: Alert) -> dict[str, Any]:
    return json.loads(alert.model_dump_json())


@pytest.fixture(scope="module")
def demo(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A worker that judged the demo week, then the late order; and replay's alerts."""
    replayed = run(load_engine(REPO / "rules"), read_events(DEMO + LATE_ORDER, _ignore), None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORDERHUB_RULES_DIR", str(REPO / "rules"))
        patch.setenv("ORDERHUB_REORDER_WINDOW", "5")  # as the live-alerts test: a loaded CI
        worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path_factory.mktemp("views"))
        worker.start()
        try:
            worker.publish([line.encode() for line in DEMO if line.strip()])
            worker.caught_up()
            worker.publish([line.encode() for line in LATE_ORDER])
            worker.caught_up()
            assert len(worker.read(worker.topics.alerts, len(replayed.alerts), 60)) == len(
                replayed.alerts
            )
            yield worker, replayed.alerts
        finally:
            worker.stop()


def _ignore(_line: int, _why: str) -> None:
    return None


@pytest.fixture
def cli(demo: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(*args)`` runs `orderhub ARGS` on the demo worker: (exit code, stdout, stderr)."""
    worker = demo[0]
    for name, value in worker.env.items():
        if name.startswith(("ORDERHUB_", "KAFKA_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("ORDERHUB_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()

    def call(*args: str) -> tuple[int, str, str]:
        code = orderhub_run(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield call
    get_settings.cache_clear()


def test_alerts_tail_is_a_table_of_every_alert_in_event_time(demo: Any, cli: Any) -> None:
    worker, alerts = demo
    emitted = [json.loads(r.value) for r in worker.read(worker.topics.alerts, len(alerts))]
    at = [views.instant(a["at"]) for a in emitted]
    assert at != sorted(at)  # the late order's alerts came last: there is something to sort

    code, table, err = cli("alerts", "tail")
    assert code == 0
    header, *rows = table.splitlines()
    assert header.split()[:6] == ["time", "rule", "severity", "status", "key", "message"]
    assert rows == [views.alert_row(a, SHANGHAI) for a in views.in_event_time(emitted)]
    assert sorted(rows) == sorted(views.alert_row(published(a), SHANGHAI) for a in alerts)
    times = [row[:19] for row in rows]
    assert times == sorted(times) and times[0] == "2026-10-22 10:00:00"
    assert err == f"({len(alerts)} of {len(alerts)} records from {worker.topics.alerts})\n"

    code, doc, _ = cli("alerts", "tail", "--format", "json", "--rule", "APR-1")
    assert [(a["key"]["order_id"], a["status"]) for a in json.loads(doc)] == [
        (a.key["order_id"], a.status)
        for a in sorted(alerts, key=lambda a: a.at)
        if a.rule_id == "APR-1"
    ]


def test_alerts_list_is_what_fires_when_replay_ends(demo: Any, cli: Any) -> None:
    worker, alerts = demo
    last = {a.fingerprint: a for a in alerts}
    firing = [published(a) for a in last.values() if a.status == "firing"]
    assert len(firing) >= 10

    code, doc, _ = cli("alerts", "list", "--format", "json")
    assert code == 0
    listed = json.loads(doc)
    assert sorted(listed, key=lambda a: a["fingerprint"]) == sorted(
        firing, key=lambda a: a["fingerprint"]
    )
    assert [views.instant(a["at"]) for a in listed] == sorted(
        views.instant(a["at"]) for a in listed
    )
    # each one's own page, the Alertmanager sink's generatorURL
    one = listed[0]
    assert worker.web.alert(one["fingerprint"]) == {
        "fingerprint": one["fingerprint"],
        "status": "firing",
        "alert": one,
    }
    resolved = next(a for a in alerts if a.status == "resolved" and last[a.fingerprint] == a)
    assert worker.web.alert(resolved.fingerprint)["status"] == "not firing"


ORDER = {
    "event_id": "SO-RPL-1-confirmed",
    "type": "order.confirmed",
    "event_time": "2026-11-08T20:30:00+08:00",
    "source": "erp",
    "order_id": "SO-RPL-1",
    "region": "replay-test",
    "model": "Z9",
    "quantity": 5,
    "amount": "50",
}


def test_dlq_replay_sends_a_fixed_record_to_the_tables_once_however_often_it_runs(
    demo: Any, cli: Any
) -> None:
    worker, _ = demo
    topics = worker.topics
    code, lines, _ = cli("dlq", "tail", "--format", "jsonl")  # bare: what is there already
    demo_letters = [json.loads(line) for line in lines.splitlines()]
    assert code == 0 and sorted(d["reason"] for d in demo_letters) == [
        "invalid_value",
        "not_json",
        "unknown_type",
    ]

    # Dead letters whose cause is since fixed (a worker that did not know order.confirmed
    # yet, say), and one still bad.
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    fixed = dead_letter(
        "unknown_type", "then", json.dumps(ORDER).encode(), topics.family("orders"), 2, 41
    )
    bad = dead_letter("not_json", "no JSON", b"{still bad", topics.family("orders"), 0, 42)
    producer = KafkaProducer(**client_config(worker.settings, worker.bootstrap), acks="all")
    for letter in (fixed, fixed, bad):  # the fixed one twice, as a crashed ingest repeats
        producer.send(topics.dead_letter, value=letter.model_dump_json().encode())
    producer.flush()
    producer.close()

    code, doc, err = cli("dlq", "replay", "--since", since, "--format", "json")
    assert code == 0, err
    rows = json.loads(doc)
    assert [(r["reason"], r["outcome"], r["sent_to"]) for r in rows] == [
        ("unknown_type", "sent", topics.family("orders")),
        ("unknown_type", "repeated", None),
        ("not_json", "sent", topics.family("orders")),
    ]
    worker.caught_up()
    assert worker.qty("in_transit_region")["replay-test"] == 5
    assert worker.table("orders")["SO-RPL-1"]["event_ids"] == ["SO-RPL-1-confirmed"]

    # The still-bad record is a dead letter again (not lost) ...
    code, lines, _ = cli(
        "dlq", "tail", "--format", "jsonl", "--reason", "not_json", "--since", since
    )
    again = [json.loads(line) for line in lines.splitlines()]
    assert [(d["topic"], d["offset"] == 42) for d in again] == [
        (topics.family("orders"), True),
        (topics.family("orders"), False),
    ]
    # ... and a second replay sends nothing: no loop, nothing twice.
    code, doc, err = cli("dlq", "replay", "--since", since, "--format", "json")
    assert code == 0, err
    assert [r["outcome"] for r in json.loads(doc)] == ["already replayed"] * 4
    worker.caught_up()  # replay returns once the broker has what it sent: nothing here
    assert worker.qty("in_transit_region")["replay-test"] == 5
    code, table, _ = cli("dlq", "replay", "--dry-run", "--reason", "invalid_value")
    assert code == 0 and "would send" in table  # the demo's own, never replayed
