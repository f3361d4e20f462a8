"""The sink's ``/metrics``: its plain counters read at each scrape (prometheus-client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors.alertmanager.sink import Counters


class SinkCollector(Collector):
    """``orderhub_alertmanager_*`` from ``counters()`` (the running sink's, or zeros)."""

    def __init__(self, counters: Callable[[], Counters]) -> None:
        self._counters = counters

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        c = self._counters()
        pushes = CounterMetricFamily(
            "orderhub_alertmanager_pushes", "Pushes an Alertmanager took", labels=["url"]
        )
        failures = CounterMetricFamily(
            "orderhub_alertmanager_push_failures",
            "Pushes that failed (Alertmanager away or erring); retried with back-off",
            labels=["url"],
        )
        for url, n in sorted(c.pushes_ok.items()):
            pushes.add_metric([url], n)
        for url, n in sorted(c.pushes_failed.items()):
            failures.add_metric([url], n)
        yield pushes
        yield failures
        yield CounterMetricFamily(
            "orderhub_alertmanager_rejected_pushes",
            "Pushes Alertmanager refused as invalid (400): their alerts are dropped",
            value=c.alerts_rejected,
        )
        yield CounterMetricFamily(
            "orderhub_alertmanager_skipped_records",
            "Alerts-topic records that are not an alert",
            value=c.records_skipped,
        )
        yield CounterMetricFamily(
            "orderhub_alertmanager_commits", "Offsets committed after pushes", value=c.commits
        )
        yield GaugeMetricFamily(
            "orderhub_alertmanager_alerts_firing",
            "Alerts the sink keeps firing in Alertmanager",
            value=c.alerts_firing,
        )
