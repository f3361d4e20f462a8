"""The Faust app: broker, tables, topics, agents and views wired together. No business logic.

Tables use the in-memory store on purpose: on start a worker rebuilds them from their
changelog topics, so Kafka is the only durable copy and there is no local state to lose
or to get out of step with the changelog.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import faust

from contract.settings import Settings
from contract.topics import Topics
from streams.clients.kafka_io import client_config
from streams.clients.kafka_security import kafka_security
from streams.core.hooks import NoRules, RuleHook
from streams.core.retention import first_kept_day
from streams.core.state import TABLE_NAMES
from streams.worker.agents import register_agents
from streams.worker.assessment import register_assessment
from streams.worker.assign import OneActiveAssignor
from streams.worker.durable import ChangelogWrites, durable_table
from streams.worker.health import HealthConfig
from streams.worker.ledger import LiveLedger
from streams.worker.metrics import MeasuredHook, WorkerMetrics
from streams.worker.runtime import Runtime
from streams.worker.web import register_views


def broker_urls(bootstrap: str) -> list[str]:
    """``host:port,host:port`` -> Faust's ``kafka://host:port`` URLs."""
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


def _credentials(settings: Settings) -> Any:
    """Faust's credentials from the same reading of the settings as every other client's
    (``streams.clients.kafka_security``): SASL with the TLS context for SASL_SSL, TLS alone."""
    security = kafka_security(settings)
    if security.sasl is not None:
        # Faust derives SASL_SSL from the presence of the context, SASL_PLAINTEXT otherwise.
        return faust.SASLCredentials(
            username=security.sasl.username,
            password=security.sasl.password.get_secret_value(),
            mechanism=security.sasl.mechanism,
            ssl_context=security.ssl_context,
        )
    if security.ssl_context is not None:
        return faust.SSLCredentials(security.ssl_context)
    return None


async def _unwired(key: str, value: bytes) -> None:
    """The ledger's send until ``register_agents`` gives it the assessment topic's."""
    raise RuntimeError("the ledger's topic is not wired yet")


def create_app(settings: Settings, bootstrap: str, hook: RuleHook | None = None) -> Any:
    """The worker's Faust app. ``hook`` is the rule engine (default: no rules).

    The app id is the topic prefix, so each deployment (and each test) gets its own
    consumer group and changelog topics.
    """
    # Per web port: several workers on one machine (streams.worker.control instances).
    datadir = settings.home / "worker" / str(settings.web_port)
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust makes only the last level
    app = faust.App(
        settings.topic_prefix,
        broker=broker_urls(bootstrap),
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(datadir),
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        topic_replication_factor=settings.replication_factor,
        topic_partitions=1,
        key_serializer="raw",
        value_serializer="raw",
        # A worker that died without leaving the group holds its partitions until the
        # session times out; 10 s (not Faust's 60) lets a restarted worker resume soon.
        broker_session_timeout=10.0,
        # How much handled work a crash repeats (the commit journal keeps it exact).
        broker_commit_interval=settings.commit_interval,
        # One worker holds every active partition, the others are hot standbys.
        PartitionAssignor=OneActiveAssignor,
    )
    # One partition, like the events topic that changes them (Faust requires the two
    # to be co-partitioned); default None so a missing key reads as None via .get. The
    # producer's partitioner (always partition 0) lets the tick timer write the engine's
    # tables outside an event.
    writes = ChangelogWrites()
    tables = {
        name: durable_table(app, name, writes, default=None, partitions=1, use_partitioner=True)
        for name in TABLE_NAMES
    }
    # The commit journal of the state agent and the tick (streams.worker.judging).
    journal = durable_table(
        app, "journal", writes, default=None, partitions=1, use_partitioner=True
    )
    metrics = WorkerMetrics()
    # The assessment ledger: entry id -> entry (streams.worker.ledger).
    ledger_table = durable_table(
        app, "ledger", writes, default=None, partitions=1, use_partitioner=True
    )
    zone = ZoneInfo(settings.timezone)
    months = settings.assessment_months
    ledger = LiveLedger(ledger_table, tables["orders"], writes, _unwired, months=months, zone=zone)
    rt = Runtime(
        topics=Topics(settings.topic_prefix),
        tables=tables,
        journal=journal,
        # Timed and counted around the engine, not inside it (streams.worker.metrics).
        hook=MeasuredHook(hook or NoRules(), metrics),
        metrics=metrics,
        writes=writes,
        kafka_client=client_config(settings, bootstrap),
        reorder_window=settings.reorder_window,
        retention=timedelta(days=settings.order_retention_days),
        health=HealthConfig.of(settings),
        ledger=ledger,
        keep_plans_from=partial(first_kept_day, months=months, zone=zone),
    )
    register_agents(app, rt, settings.topic_partitions)
    register_views(app, rt)
    register_assessment(app, rt, settings)
    return app
