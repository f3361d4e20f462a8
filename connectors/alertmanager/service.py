"""``orderhub connect alertmanager``: the sink wired to Kafka and HTTP, run until stopped."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from connectors.alertmanager.clients import (
    KafkaSource,
    KafkaStateStore,
    group_name,
    state_topic,
)
from connectors.alertmanager.mapping import generator_base
from connectors.alertmanager.push import post_alerts
from connectors.alertmanager.sink import AlertmanagerSink
from contract.settings import Settings
from contract.topics import Topics


def serve(
    settings: Settings,
    bootstrap: str,
    urls: Sequence[str],
    resend_interval: float,
    stop: threading.Event,
    metrics_port: int | None = None,
) -> AlertmanagerSink:
    """Push the alerts topic to every Alertmanager of ``urls`` until ``stop`` is set; with
    ``metrics_port``, serve ``/metrics`` on ``settings.web_host`` at that port."""
    prefix = settings.topic_prefix
    store = KafkaStateStore(settings, bootstrap, state_topic(prefix))
    try:
        source = KafkaSource(settings, bootstrap, Topics(prefix).alerts, group_name(prefix))
        try:
            sink = AlertmanagerSink(
                source,
                store,
                urls,
                post_alerts,
                generator_base(settings.web_host, settings.web_port),
                resend_interval,
            )
            if metrics_port is not None:
                _serve_metrics(sink, settings.web_host, metrics_port)
            sink.run(stop)
            return sink
        finally:
            source.close()
    finally:
        store.close()


def _serve_metrics(sink: AlertmanagerSink, host: str, port: int) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    from connectors.alertmanager.metrics import SinkCollector

    registry = CollectorRegistry()
    registry.register(SinkCollector(lambda: sink.counters))
    start_http_server(port, addr=host, registry=registry)  # a daemon thread
