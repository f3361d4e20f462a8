"""Rule sets that survive a restart: a worker started with a broken rule file runs that
file's last good rules (kept on ``<prefix>.rulesets`` by an earlier run), says so on the
alerts topic, and resolves that alert once the file is fixed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from contract.settings import Settings
from streams.clients.kafka_io import client_config, create_topics
from streams.core.ruleset import version
from streams.worker.rulestore import KafkaRuleStore
from tests.integration.stream_harness import Worker, lines

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APPROVAL = (REPO / "rules" / "approval.rule").read_text(encoding="utf-8")
BROKEN = APPROVAL.replace("severity critical", "severity critcal")  # line 5, column 12
FIXED = APPROVAL + "\n# fixed after the outage\n"
# The worker reloads changed files every 10 s (LiveRules.check_every) and ticks every 5 s.
RELOAD_TIMEOUT = 60.0


def big_order(oid: str, day: str) -> list[dict[str, Any]]:
    """600,000 CNY scheduled without senior approval: APR-1 fires."""
    common = {"order_id": oid, "region": "north", "model": "X1", "source": "erp"}
    return [
        {
            **common,
            "event_id": f"{oid}-received",
            "type": "order.received",
            "event_time": f"{day}T09:00:00+08:00",
            "quantity": 1,
            "amount": "600000",
        },
        {
            **common,
            "event_id": f"{oid}-scheduled",
            "type": "order.scheduled",
            "event_time": f"{day}T10:00:00+08:00",
        },
    ]


def alerts(worker: Worker, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    found = [json.loads(r.value) for r in worker.read(worker.topics.alerts, count, timeout)]
    assert len(found) >= count, f"{found}\nworker log:\n{worker.log_tail()}"
    return found


def test_a_worker_started_with_a_broken_file_runs_its_last_good_rules(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    rule_file = rules / "approval.rule"
    rule_file.write_text(APPROVAL, encoding="utf-8")
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(rules))
    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")

    worker.start()  # a first run with the good file keeps it
    worker.stop()
    store = KafkaRuleStore.of(worker.settings, kafka_bootstrap)
    assert store.load() == {"approval.rule": APPROVAL}

    rule_file.write_text(BROKEN, encoding="utf-8")
    worker.start()
    try:
        worker.publish(lines(big_order("O1", "2026-03-02")))
        worker.caught_up()
        fired = {a["rule_id"]: a for a in alerts(worker, 2)}
        good = version({"approval.rule": APPROVAL}, worker.settings.timezone)
        assert (fired["APR-1"]["status"], fired["APR-1"]["rule_set"]) == ("firing", good)
        load = fired["RULESET-LOAD"]
        assert (load["severity"], load["status"], load["key"]) == (
            "critical",
            "firing",
            {"file": "approval.rule"},
        )
        assert load["values"] == {
            "errors": [f"{rule_file}:5:12: E207 unknown severity 'critcal'"],
            "last_good": True,
        }
        assert load["rule_set"] == good

        rule_file.write_text(FIXED, encoding="utf-8")
        [resolved] = alerts(worker, 3, RELOAD_TIMEOUT)[2:]
        assert (resolved["rule_id"], resolved["status"], resolved["fingerprint"]) == (
            "RULESET-LOAD",
            "resolved",
            load["fingerprint"],
        )
        # The fixed file runs now, and is the new last good version.
        worker.publish(lines(big_order("O2", "2026-03-03")))
        worker.caught_up()
        [after] = alerts(worker, 4)[3:]
        assert (after["rule_id"], after["key"]["order_id"]) == ("APR-1", "O2")
        assert after["rule_set"] == version({"approval.rule": FIXED}, worker.settings.timezone)
        assert store.load() == {"approval.rule": FIXED}
    finally:
        worker.stop()
        store.close()


def test_the_store_gives_the_latest_text_of_each_file(kafka_bootstrap: str) -> None:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=f"it-{uuid.uuid4().hex[:10]}"
    )
    create_topics(settings, kafka_bootstrap)
    store = KafkaRuleStore.of(settings, kafka_bootstrap)
    try:
        assert store.load() == {}
        store.save("caps.rule", "v1")
        store.save("calendars/cn.yaml", "cal")
        store.save("caps.rule", "v2")
        producer = KafkaProducer(**client_config(settings, kafka_bootstrap))
        producer.send(store.topic, key=b"calendars/cn.yaml", value=None).get(timeout=30)
        producer.close()
        assert store.load() == {"caps.rule": "v2"}  # a tombstone forgets the file
    finally:
        store.close()
