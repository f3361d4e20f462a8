"""The watch folder's ``/metrics`` (``orderhub connect watch --metrics-port``): its counters
read at each scrape (prometheus-client), in a registry of its own like the Alertmanager
sink's (``connectors.alertmanager.metrics``).

``orderhub connect csv`` runs once and exits, so nothing could scrape it: it has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from connectors.filedrop import FileCounters


class FileDropCollector(Collector):
    """``orderhub_csv_rows_total{kind,outcome}`` and ``orderhub_csv_files_total{outcome}``."""

    def __init__(self, counters: Callable[[], FileCounters]) -> None:
        self._counters = counters

    def collect(self) -> Iterator[CounterMetricFamily]:
        c = self._counters()
        rows = CounterMetricFamily(
            "orderhub_csv_rows",
            "Plan rows of dropped files, by kind (weekly demand plan, daily shipping plan) "
            "and outcome (published; rejected: dead-lettered; withheld: a good line of a "
            "daily plan with a bad one, not published)",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), n in sorted(c.rows.items()):
            rows.add_metric([kind, outcome], n)
        yield rows
        files = CounterMetricFamily(
            "orderhub_csv_files",
            "Dropped files handled, by outcome (published: every row; rows_rejected: some "
            "rows dead-lettered, moved to processed/; failed: unreadable, moved to failed/)",
            labels=["outcome"],
        )
        for outcome, n in sorted(c.files.items()):
            files.add_metric([outcome], n)
        yield files


def serve_metrics(counters: Callable[[], FileCounters], host: str, port: int) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; the server (its
    ``server_port``, ``shutdown``)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(FileDropCollector(counters))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server
