"""The sink's /metrics: what an on-call engineer's "Alertmanager pushes failing" alert reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from connectors.alertmanager.metrics import SinkCollector
from connectors.alertmanager.sink import Counters


def test_counters_are_exposed_per_alertmanager() -> None:
    counters = Counters(
        pushes_ok={"http://am-1:9093": 7, "http://am-2:9093": 5},
        pushes_failed={"http://am-1:9093": 0, "http://am-2:9093": 3},
        alerts_rejected=1,
        records_skipped=2,
        commits=4,
        alerts_firing=6,
    )
    registry = CollectorRegistry()
    registry.register(SinkCollector(lambda: counters))
    text = generate_latest(registry).decode()
    lines = {line for line in text.splitlines() if not line.startswith("#")}
    assert {
        'orderhub_alertmanager_pushes_total{url="http://am-1:9093"} 7.0',
        'orderhub_alertmanager_pushes_total{url="http://am-2:9093"} 5.0',
        'orderhub_alertmanager_push_failures_total{url="http://am-2:9093"} 3.0',
        "orderhub_alertmanager_rejected_pushes_total 1.0",
        "orderhub_alertmanager_skipped_records_total 2.0",
        "orderhub_alertmanager_commits_total 4.0",
        "orderhub_alertmanager_alerts_firing 6.0",
    } <= lines
    # the alert rule's expression reads this name (deploy/monitoring/alerts.yml)
    assert 'orderhub_alertmanager_push_failures_total{url="http://am-1:9093"} 0.0' in lines
    counters.pushes_failed["http://am-1:9093"] = 2  # read at each scrape, not copied
    assert 'push_failures_total{url="http://am-1:9093"} 2.0' in generate_latest(registry).decode()
