"""The worker's Prometheus metrics, served at ``/metrics`` on its web port.

Most figures are read at scrape time from what the worker keeps anyway (a custom
collector, ``WorkerCollector``): the health monitor's lag, the progress positions, the
event-time clock, the rule hook's status, and the engine's tables (alerts firing now,
deadline watches); the current month's assessment per region is computed from the
assessment's facts and ledger by ``assess`` (``AssessmentCollector``). Counting happens
only where nothing keeps a count, and only in this shell, never in the pure core:

* events forwarded by ingest (``WorkerMetrics.event_in``);
* alerts, counted once the judging that published them is committed
  (``streams.worker.judging``), so a crash or a failed send that makes the worker judge an
  event again does not count its alerts twice: the counter says what replay says;
* rule evaluations and their latency, by wrapping the rule hook (``MeasuredHook``);
* dead letters by reason, read from the dead-letter topic itself (``DeadLetterReader``):
  ``orderhub produce``, the connectors and the worker all write there, and a worker that
  restarts counts the topic again from its start instead of losing what came before.

Faust's own Prometheus sensor (``faust.sensors.prometheus``) is not used: it measures
Faust's internals (stream and table operation counts under Faust's names), not the
hub's events, rules and alerts, and it registers in the process-wide registry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from contract.assessment import LedgerEntry
from contract.events import Alert, Event
from streams.core.assessment.facts import Facts, month_of
from streams.core.assessment.kpis import Assessment, AssessmentRules, assess
from streams.core.hooks import RuleHook
from streams.core.state import Tables
from streams.worker.health import role, rule_status, tables_current
from streams.worker.rulehook import OPEN_LOAD_ALERTS

if TYPE_CHECKING:
    from streams.worker.health import HealthMonitor
    from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

# Counters get no ``_created`` series: they double what is scraped and say nothing here.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Prometheus' text format; aiohttp refuses a charset in its content_type argument.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Rule hook calls: one event is ~10-100 µs, a tick with many deadlines a few ms.
LATENCY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)


class WorkerMetrics:
    """The worker's registry and the few counters the shell keeps itself."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.events = Counter(
            "orderhub_events",
            "Events ingest validated and forwarded to the events topic, by input topic and type.",
            ["topic", "type"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "orderhub_alerts",
            "Alerts published and committed (each judged event once), by rule, severity and "
            "status (firing or resolved).",
            ["rule", "severity", "status"],
            registry=self.registry,
        )
        self.evaluations = Counter(
            "orderhub_rule_evaluations",
            "Rules judged on an event (triggers, expected and cancelling events), by rule.",
            ["rule"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "orderhub_rule_evaluation_duration_seconds",
            "Time the rule engine took per event or per tick of the clock.",
            ["call"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "orderhub_dead_letters",
            "Records on the dead-letter topic, by reason (read from the topic's start).",
            ["reason"],
            registry=self.registry,
        )

    def event_in(self, topic: str, event_type: str) -> None:
        self.events.labels(topic=topic, type=event_type).inc()

    def published(self, alerts: Iterable[Alert]) -> None:
        """Count alerts whose judging is committed (``Judging``'s ``committed`` callback)."""
        for alert in alerts:
            self.alerts.labels(
                rule=alert.rule_id, severity=alert.severity, status=alert.status
            ).inc()

    def dead_letter(self, reason: str) -> None:
        self.dead_letters.labels(reason=reason).inc()

    def exposition(self) -> bytes:
        """Everything in Prometheus' text format."""
        return generate_latest(self.registry)


# --- the rule hook, measured ------------------------------------------------------------


class MeasuredHook:
    """A ``RuleHook`` that times each call and counts the rules each event is judged by.

    Wrapping keeps the engine untouched; which rules an event concerns comes from the hook
    (``LiveRules.rules_for``), none when the hook cannot say."""

    def __init__(
        self,
        hook: RuleHook,
        metrics: WorkerMetrics,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.hook, self.metrics, self.timer = hook, metrics, timer

    def on_event(self, tables: Tables, event: Event, seq: int) -> list[Alert]:
        start = self.timer()
        alerts = self.hook.on_event(tables, event, seq)
        self.metrics.latency.labels(call="event").observe(self.timer() - start)
        for rule_id in self.rules_for(event.type):
            self.metrics.evaluations.labels(rule=rule_id).inc()
        return alerts

    def on_tick(self, tables: Tables, now: datetime) -> list[Alert]:
        start = self.timer()
        alerts = self.hook.on_tick(tables, now)
        self.metrics.latency.labels(call="tick").observe(self.timer() - start)
        return alerts

    def status(self) -> dict[str, Any]:
        return self.hook.status()

    def rules_for(self, event_type: str) -> tuple[str, ...]:
        find = getattr(self.hook, "rules_for", None)
        return tuple(find(event_type)) if callable(find) else ()


# --- figures read from the engine's tables (pure) ---------------------------------------


def firing_now(
    rule_alerts: Iterable[Any], open_load_alerts: Iterable[Any]
) -> dict[tuple[str, str], int]:
    """(rule, severity) -> alerts firing now: the engine's ``rule_alerts`` entries and the
    rule hook's open ``RULESET-LOAD`` alerts."""
    counts: dict[tuple[str, str], int] = {}
    alerts = [entry.get("alert") or {} for entry in rule_alerts if isinstance(entry, Mapping)]
    alerts += [alert for alert in open_load_alerts if isinstance(alert, Mapping)]
    for alert in alerts:
        key = (str(alert.get("rule_id", "")), str(alert.get("severity", "")))
        counts[key] = counts.get(key, 0) + 1
    return counts


def pending_timers(watches: Iterable[Any]) -> dict[str, tuple[int, float | None]]:
    """rule -> (deadline watches pending, the earliest next deadline as a Unix time)."""
    found: dict[str, tuple[int, float | None]] = {}
    for watch in watches:
        if not isinstance(watch, Mapping):
            continue
        rule = str(watch.get("rule", ""))
        count, earliest = found.get(rule, (0, None))
        due = _timestamp(watch.get("next"))
        if due is not None and (earliest is None or due < earliest):
            earliest = due
        found[rule] = (count + 1, earliest)
    return found


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def split_tp(name: str) -> tuple[str, str]:
    """``"topic[2]"`` -> ("topic", "2")."""
    topic, _, rest = name.rpartition("[")
    return topic, rest.rstrip("]")


# --- the collector --------------------------------------------------------------------------


def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def holds_events(app: Any, events_topic: str) -> bool:
    """Whether this worker holds the events topic (the active one does)."""
    try:
        held = app.consumer.assignment()
    except Exception:  # no consumer yet (starting): nothing held
        return False
    return any(tp.topic == events_topic for tp in held)


def is_active(app: Any, events_topic: str) -> bool:
    """The active worker with its tables recovered: a standby's copies of the tables would
    make every figure read from them appear twice in Prometheus."""
    return holds_events(app, events_topic) and tables_current(app)


class WorkerCollector:
    """The figures the worker keeps anyway, read at each scrape."""

    def __init__(
        self,
        app: Any,
        rt: Runtime,
        monitor: HealthMonitor,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.app, self.rt, self.monitor, self.wall = app, rt, monitor, wall

    def collect(self) -> Iterator[Metric]:
        yield from self._health()
        yield from self._partitions()
        yield from self._rules()
        yield from self._watermark()
        if self._active():  # a standby's copies of the tables would count everything twice
            yield from self._tables()

    def _holds_events(self) -> bool:
        return holds_events(self.app, self.rt.topics.events)

    def _active(self) -> bool:
        return is_active(self.app, self.rt.topics.events)

    def _health(self) -> Iterator[Metric]:
        status = self.monitor.status()
        healthy = gauge("orderhub_worker_healthy", "1 when /healthz says healthy, else 0.")
        healthy.add_metric([], 1.0 if status["healthy"] else 0.0)
        yield healthy
        current = role(tables_current(self.app), self._holds_events())
        roles = gauge("orderhub_worker_role", "1 for the worker's role now.", ["role"])
        for name in ("active", "standby", "starting"):
            roles.add_metric([name], 1.0 if name == current else 0.0)
        yield roles
        reachable = status["broker"]["reachable"]
        if reachable is not None:
            broker = gauge(
                "orderhub_broker_reachable", "1 when the broker answered the last check."
            )
            broker.add_metric([], 1.0 if reachable else 0.0)
            yield broker

    def _partitions(self) -> Iterator[Metric]:
        lag = gauge(
            "orderhub_consumer_lag_records",
            "Records waiting on a partition the worker holds (end offset - position).",
            ["topic", "partition"],
        )
        for name, value in sorted(self.monitor.lag.items()):
            lag.add_metric(list(split_tp(name)), float(value))
        yield lag
        offset = gauge(
            "orderhub_consumer_offset",
            "The offset after the last record the worker fully handled, per partition.",
            ["topic", "partition"],
        )
        for topic, parts in sorted(self.rt.progress.positions.items()):
            for partition, position in sorted(parts.items()):
                offset.add_metric([topic, str(partition)], float(position))
        yield offset

    def _rules(self) -> Iterator[Metric]:
        status = rule_status(self.rt.hook)
        if status is None:
            return
        info = gauge(
            "orderhub_rule_set_info", "The rule-set version running (always 1).", ["version"]
        )
        info.add_metric([str(status["version"] or "")], 1.0)
        yield info
        errors = gauge(
            "orderhub_rule_set_load_errors",
            "Diagnostics of the rule and calendar files that do not load now.",
        )
        errors.add_metric([], float(len(status["errors"])))
        yield errors
        failures = CounterMetricFamily(
            "orderhub_rule_evaluation_failures",
            "Evaluations that failed on the data (a missing value), by rule; reset by a reload.",
            labels=["rule"],
        )
        for rule_id, count in sorted(status["evaluation_failures"].items()):
            failures.add_metric([rule_id], float(count))
        yield failures

    def _watermark(self) -> Iterator[Metric]:
        now = self.rt.clock.now()
        if now is None:
            return  # no event since the start: no time to say
        at = gauge(
            "orderhub_event_time_watermark_timestamp_seconds",
            "The event-time watermark the rules' deadlines follow, as a Unix time.",
        )
        at.add_metric([], now.timestamp())
        yield at
        age = gauge(
            "orderhub_event_time_watermark_age_seconds",
            "Wall-clock time minus the event-time watermark.",
        )
        age.add_metric([], self.wall() - now.timestamp())
        yield age

    def _tables(self) -> Iterator[Metric]:
        tables = self.rt.tables
        open_load = (tables["rule_clock"].get(OPEN_LOAD_ALERTS) or {}).values()
        firing = gauge(
            "orderhub_alerts_firing",
            "Alerts firing now, by rule and severity.",
            ["rule", "severity"],
        )
        for (rule_id, severity), count in sorted(
            firing_now(tables["rule_alerts"].values(), open_load).items()
        ):
            firing.add_metric([rule_id, severity], float(count))
        yield firing
        pending = gauge(
            "orderhub_rule_timers_pending", "Deadline watches waiting, by rule.", ["rule"]
        )
        earliest = gauge(
            "orderhub_rule_timer_next_deadline_timestamp_seconds",
            "The earliest pending deadline of the rule's watches, as a Unix time.",
            ["rule"],
        )
        for rule_id, (count, due) in sorted(pending_timers(tables["rule_timers"].values()).items()):
            pending.add_metric([rule_id], float(count))
            if due is not None:
                earliest.add_metric([rule_id], due)
        yield pending
        yield earliest


# --- the assessment, per region -------------------------------------------------------------


def assessment_gauges(assessment: Assessment) -> list[GaugeMetricFamily]:
    """The month's figures per region (issue 10): the daily plan's on-time rate and demand
    fulfilment of the month (none for a region without approved plan lines: there is
    nothing to measure), breaches and fines of the ledger's unvoided entries."""
    labels = ["month", "region"]
    on_time = gauge(
        "orderhub_assessment_daily_plan_on_time_ratio",
        "Approved daily shipping plan lines of the month shipped in full on their day, over "
        "all such lines (日发货计划及时率), per region.",
        labels,
    )
    fulfilment = gauge(
        "orderhub_assessment_demand_fulfilment_ratio",
        "Quantity shipped against the month's approved daily plan (per model at most the "
        "planned quantity) over the planned quantity (需求满足率), per region.",
        labels,
    )
    breaches = gauge(
        "orderhub_assessment_breaches",
        "Unvoided ledger entries of the month (breaches, fined or not), per region.",
        labels,
    )
    fines = gauge(
        "orderhub_assessment_fines_cny",
        "Fines of the month's unvoided ledger entries in CNY, per region.",
        labels,
    )
    month = assessment.month
    for kpis in assessment.periods:
        if kpis.period != "month":
            continue
        if kpis.on_time_rate is not None:
            on_time.add_metric([month, kpis.region], kpis.on_time_rate)
        if kpis.fulfilment is not None:
            fulfilment.add_metric([month, kpis.region], kpis.fulfilment)
    for region in assessment.region_fines:
        breaches.add_metric([month, region.region], float(region.breaches))
        fines.add_metric([month, region.region], float(region.amount))
    return [on_time, fulfilment, breaches, fines]


class AssessmentCollector:
    """The current business month's assessment per region, computed at each scrape by the
    same ``assess`` as ``/assessment/kpis`` and ``orderhub report assessment``.

    The current month is the event-time watermark's in the calendar's zone: the month the
    rules' deadlines are in, also when events are replayed from another month; nothing is
    served before the first event, nor by a standby (its copies would count twice)."""

    def __init__(
        self,
        facts: Callable[[], Facts],
        entries: Callable[[], Iterable[LedgerEntry]],
        rules: AssessmentRules,
        now: Callable[[], datetime | None],
        active: Callable[[], bool],
    ) -> None:
        self.facts, self.entries, self.rules = facts, entries, rules
        self.now, self.active = now, active

    def collect(self) -> Iterator[Metric]:
        now = self.now()
        if now is None or not self.active():
            return
        month = month_of(self.rules.calendar.local_date(now))
        yield from assessment_gauges(assess(self.facts(), self.entries(), month, self.rules))


# --- dead letters, from the topic ----------------------------------------------------------


def reason_of(value: bytes | None) -> str:
    """A dead letter's reason code ("unreadable" when the record is not one)."""
    try:
        found = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return "unreadable"
    reason = found.get("reason") if isinstance(found, dict) else None
    return reason if isinstance(reason, str) and reason else "unreadable"


class DeadLetterReader:
    """Follows the dead-letter topic from its start and counts its records by reason.

    It keeps its position across broker outages (it reconnects and carries on from
    there), so no record is counted twice in one process."""

    def __init__(
        self, client: Mapping[str, Any], topic: str, metrics: WorkerMetrics, retry: float = 5.0
    ) -> None:
        self.client, self.topic, self.metrics, self.retry = client, topic, metrics, retry
        self.position: int | None = None

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: wait, then read on from position
                log.info("metrics: dead-letter topic not readable now (%r); retrying", exc)
                await asyncio.sleep(self.retry)

    async def _follow(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        tp = TopicPartition(self.topic, 0)
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **self.client)
        await consumer.start()
        try:
            consumer.assign([tp])
            if self.position is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, self.position)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    self.metrics.dead_letter(reason_of(record.value))
                    self.position = record.offset + 1
        finally:
            await consumer.stop()
