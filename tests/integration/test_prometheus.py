"""A real Prometheus scrapes a real worker through the demo week; PromQL says what the
hub did: events per topic as `orderhub produce` sent them, dead letters by reason, and
alerts per rule exactly as `orderhub replay` counts them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.prometheus_harness import Prometheus
from tests.integration.stream_harness import Worker

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "deploy" / "demo" / "events.jsonl"
ORDERHUB = [str(Path(sys.executable).parent / "orderhub")]  # the installed command


def replayed(rules: Path) -> list[dict[str, object]]:
    """`orderhub replay --format jsonl` of the demo week: one alert a line."""
    done = subprocess.run(
        [*ORDERHUB, "replay", "--rules", str(rules), str(DEMO), "--format", "jsonl"],
        capture_output=True,
        check=True,
        cwd=REPO,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def produced(worker: Worker) -> tuple[dict[str, float], Counter[str]]:
    """`orderhub produce` of the demo week: records sent per topic, and the reasons of the
    lines it rejected (and dead-lettered), from its report."""
    done = subprocess.run(
        [*ORDERHUB, "produce", str(DEMO)], capture_output=True, env=worker.env, cwd=REPO
    )
    assert done.returncode == 1, done.stderr  # 1: some lines rejected, as the demo means
    report = done.stdout.decode() + done.stderr.decode()
    sent = re.search(r"\(([^)]*)\); rejected", report)
    assert sent is not None, report
    per_topic = {topic: float(n) for topic, n in re.findall(r"([\w.-]+): (\d+)", sent.group(1))}
    reasons = Counter(re.findall(r"events\.jsonl:\d+: (\w+):", report))
    return per_topic, reasons


def test_prometheus_sees_the_demo_week_as_produce_and_replay_count_it(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = REPO / "rules"
    alerts = replayed(rules)
    fired = Counter(str(a["rule_id"]) for a in alerts if a["status"] == "firing")
    resolved = Counter(str(a["rule_id"]) for a in alerts if a["status"] == "resolved")
    last = {str(a["fingerprint"]): a for a in alerts}
    firing_at_end = Counter(str(a["rule_id"]) for a in last.values() if a["status"] == "firing")
    assert sum(fired.values()) >= 25  # the demo exercises the rule set

    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(rules))
    monkeypatch.setenv("ORDERHUB_REORDER_WINDOW", "5")  # as test_live_alerts: exact order
    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    prometheus = Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{worker.port}"])
    worker.start()
    try:
        prometheus.start()
        per_topic, reasons = produced(worker)
        assert sum(reasons.values()) == 3
        worker.caught_up()

        def counted(promql: str) -> dict[str, float]:
            return prometheus.by("rule", promql)

        fired_query = 'sum by (rule) (orderhub_alerts_total{status="firing"})'
        resolved_query = 'sum by (rule) (orderhub_alerts_total{status="resolved"})'
        expected_fired = {rule: float(n) for rule, n in fired.items()}
        assert prometheus.until(lambda: counted(fired_query), expected_fired) == expected_fired
        expected_resolved = {rule: float(n) for rule, n in resolved.items()}
        assert counted(resolved_query) == expected_resolved
        expected_firing = {rule: float(n) for rule, n in firing_at_end.items()}
        assert counted("sum by (rule) (orderhub_alerts_firing)") == expected_firing

        letters = prometheus.until(
            lambda: prometheus.by("reason", "sum by (reason) (orderhub_dead_letters_total)"),
            {reason: float(n) for reason, n in reasons.items()},
        )
        assert letters == {"not_json": 1.0, "invalid_value": 1.0, "unknown_type": 1.0}
        assert prometheus.by("", "sum(orderhub_dead_letters_total)") == {"": 3.0}

        events = prometheus.by("topic", "sum by (topic) (orderhub_events_total)")
        assert events == per_topic
        assert sum(events.values()) == 474
        assert prometheus.by("job", "up") == {"orderhub-worker": 1.0}
        # The health monitor measures lag every ORDERHUB_HEALTH_INTERVAL (5 s).
        lag = prometheus.until(
            lambda: prometheus.by("", "max(orderhub_consumer_lag_records)"), {"": 0.0}
        )
        assert lag == {"": 0.0}
        assert prometheus.by("", "orderhub_rule_set_load_errors") == {"": 0.0}
        versions = {str(a["rule_set"]) for a in alerts}
        assert set(prometheus.by("version", "orderhub_rule_set_info")) == versions
    finally:
        prometheus.stop()
        worker.stop()
