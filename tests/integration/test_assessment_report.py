"""The demo month's assessment (考核) from the live worker equals the offline report.

``deploy/demo/month.jsonl`` (September 2026: daily shipping plans and shipments, some short
and some late, the Mid-Autumn week, late SLA steps, west's late October plan, east's special
order never picked up) goes through a live worker that is SIGKILLed mid-month and started
again. Then ``orderhub report assessment --month 2026-09 --format json`` — live, from the
worker's facts table and ledger — must equal the same command with ``--events`` (the replay
engine, offline): every view, KPIs, SLA compliance, PLAN-1, breaches per rule and department,
fines per person and region. And the live ledger must hold exactly the offline ledger's
entries: none twice, none missing, the same fields; the compacted assessment topic too.
And the facts table, as its changelog holds it (what a restart recovers), equals the offline
facts row for row: the SIGKILL made Kafka deliver events again to the facts agent.

Then ``make run``'s sequence on a fresh worker: the month, then the demo week (with its three
malformed lines), and the report as soon as the worker has caught up, as ``make run`` takes
it: equal to the offline report of the month alone; and the alerts topic holds what replay
says of both files, the week's exactly those of the week alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from contract.events import Alert
from streams.clients.kafka_io import client_config
from streams.core.assessment.facts import row_json, row_key
from streams.core.assessment.ledger import encode
from streams.offline.assessment import replay_assessment
from streams.offline.replay import load_engine, run
from tests.integration.busy_week import REPO, RULES
from tests.integration.stream_harness import Worker
from tests.integration.test_assessment_ledger import ZONE, read_assessment
from tests.integration.test_exact_alerts import read_alerts
from tests.integration.test_recovery import wait_for_events
from tests.streams.offline.event_lines import read_events

pytestmark = pytest.mark.integration

MONTH = "2026-09"
DEMO_MONTH = REPO / "deploy" / "demo" / "month.jsonl"
DEMO_WEEK = REPO / "deploy" / "demo" / "events.jsonl"
# Live equals replay within the reorder window (see test_exact_alerts).
WINDOW = "5"


def report(worker: Worker, *extra: str) -> dict[str, Any]:
    """``orderhub report assessment --month 2026-09 --format json`` as a user runs it."""
    command = [sys.executable, "-m", "orderhub", "report", "assessment", "--month", MONTH]
    done = subprocess.run(
        [*command, "--format", "json", *extra],
        env=worker.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def differences(live: dict[str, Any], offline: dict[str, Any]) -> dict[str, Any]:
    """Per view, the rows only live and the rows only offline (for a readable failure)."""
    found: dict[str, Any] = {}
    for name in sorted({*live, *offline}):
        a, b = live.get(name), offline.get(name)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            found[name] = {
                "only live": [row for row in a if row not in b],
                "only offline": [row for row in b if row not in a],
            }
        else:
            found[name] = {"live": a, "offline": b}
    return found


def live_ledger(worker: Worker) -> dict[str, dict[str, Any]]:
    return {e["entry_id"]: e for e in worker.web.ledger(month=MONTH)["entries"]}


def changelog(worker: Worker, table: str) -> dict[str, Any]:
    """A table as a restarted worker recovers it: each key's last record on its changelog
    (a tombstone removes the key)."""
    consumer = KafkaConsumer(**client_config(worker.settings, worker.bootstrap))
    try:
        tp = TopicPartition(f"{worker.prefix}-{table}-changelog", 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        found: dict[str, Any] = {}
        deadline = time.monotonic() + 60
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    key = _text(r.key)
                    if r.value is None:
                        found.pop(key, None)
                    else:
                        found[key] = json.loads(r.value)  # the tables' codec is JSON
        return {k: v for k, v in found.items() if v}
    finally:
        consumer.close()


def _text(key: bytes) -> str:
    """A changelog key: JSON text or the raw string, whichever the table's codec wrote."""
    try:
        value = json.loads(key)
    except ValueError:
        return key.decode()
    return value if isinstance(value, str) else key.decode()


def settled(worker: Worker, offline: dict[str, Any], ledger: dict[str, Any]) -> dict[str, Any]:
    """The live report once it equals ``offline`` and the live ledger ``ledger`` (deadlines
    fire on the worker's next ticks), or after 90 s; then one more tick, so that an entry
    the live side would add too many is seen."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if report(worker) == offline and live_ledger(worker) == ledger:
            break
        time.sleep(2)
    time.sleep(6)
    return report(worker)


def test_the_live_report_after_a_sigkill_equals_the_offline_report(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(RULES))
    monkeypatch.setenv("ORDERHUB_REORDER_WINDOW", WINDOW)
    # Offsets committed every 10 s: the SIGKILL makes Kafka deliver again events both the
    # state agent and the facts agent had handled (see test_exact_alerts).
    monkeypatch.setenv("ORDERHUB_COMMIT_INTERVAL", "10")
    month = DEMO_MONTH.read_bytes().splitlines()
    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")

    offline = report(worker, "--events", str(DEMO_MONTH))
    # The month exercises every view (docs/assessment.md; deploy/demo/month.py says how).
    fines = {(f["who"], f["region"]): f["amount"] for f in offline["person_fines"]}
    assert fines == {("region", "west"): "100.00", ("region manager", "east"): "200.00"}
    late = [p["region"] for p in offline["plans"] if not p["on_time"]]
    assert late == ["west"]
    assert {s["missed"] for s in offline["sla"]} > {0}
    assert {p["on_time_rate"] for p in offline["periods"] if p["period"] == "month"} > {1.0}
    _, replayed = replay_assessment(DEMO_MONTH, RULES, MONTH)
    ledger = {e.entry_id: encode(e) for e in replayed.ledger.select(month=MONTH, zone=ZONE)}
    assert len(ledger) == sum(b["breaches"] for b in offline["breaches"]) == 16

    facts = {row_key(k): row_json(v) for k, v in replayed.facts.items()}

    worker.start()
    try:
        worker.publish(month)
        wait_for_events(worker, at_least=len(month) // 2)
        worker.kill()
        worker.start()
        worker.caught_up()
        live = settled(worker, offline, ledger)
        entries = live_ledger(worker)
        stored = changelog(worker, "assessment-facts")
        published = {a.fingerprint for a in read_alerts(worker) if a.status == "firing"}
        # Every difference at once, so that a failure says all that differs.
        found = {
            "ledger entries missing (rule, key, at)": sorted(
                (v["rule_id"], json.dumps(v["key"]), v["at"])
                for k, v in ledger.items()
                if k not in entries
            ),
            # Missing because the engine never published the alert (else: the ledger's fault).
            "missing entries whose alert is not on the alerts topic": sorted(
                (v["rule_id"], json.dumps(v["key"]), v["at"])
                for k, v in ledger.items()
                if k not in entries and v["fingerprint"] not in published
            ),
            "ledger entries extra": sorted(
                (v["rule_id"], json.dumps(v["key"]), v["at"])
                for k, v in entries.items()
                if k not in ledger
            ),
            "ledger entries that differ (live, offline)": [
                (entries[k], ledger[k])
                for k in sorted(entries.keys() & ledger.keys())
                if entries[k] != ledger[k]
            ],
            "report views that differ": differences(live, offline),
            # The facts as a restart recovers them: exact, whatever the SIGKILL repeated.
            "facts rows that differ": sorted(
                k for k in {*facts, *stored} if facts.get(k) != stored.get(k)
            ),
        }
        assert found == {name: type(value)() for name, value in found.items()}, json.dumps(
            found, indent=1, ensure_ascii=False
        )
        assert live == offline
        # The topic: one key per entry, each key's last record the entry as it is.
        assert dict(read_assessment(worker)) == ledger
    finally:
        worker.stop()


def test_make_runs_sequence_gives_the_offline_report_of_the_month(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(RULES))
    monkeypatch.setenv("ORDERHUB_REORDER_WINDOW", WINDOW)
    month = DEMO_MONTH.read_text(encoding="utf-8").splitlines()
    week = DEMO_WEEK.read_text(encoding="utf-8").splitlines()
    replayed = run(load_engine(RULES), read_events([*month, *week], lambda n, why: None), None)
    expected = sorted((a.rule_id, a.status, a.fingerprint, a.at) for a in replayed.alerts)
    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    offline = report(worker, "--events", str(DEMO_MONTH))
    _, alone = replay_assessment(DEMO_MONTH, RULES, MONTH)
    ledger = {e.entry_id: encode(e) for e in alone.ledger.select(month=MONTH, zone=ZONE)}

    worker.start()
    try:
        # As make run: `orderhub produce` the month, then the week; wait until caught up.
        worker.publish([line.encode() for line in month])
        worker.publish([line.encode() for line in week if line.strip()])
        worker.caught_up()
        live = report(worker)  # at once, as make run reports: no waiting for a tick
        assert differences(live, offline) == {}
        assert live_ledger(worker) == ledger
        records = worker.read(worker.topics.alerts, count=len(expected), timeout=60)
        alerts = [Alert.model_validate_json(r.value) for r in records]
        assert sorted((a.rule_id, a.status, a.fingerprint, a.at) for a in alerts) == expected
    finally:
        worker.stop()
