"""The live assessment: a facts table fed from the events topic, and ``/assessment/kpis``.

Why no commit journal (the state agent needs one, ``streams.worker.judging``): the state
agent's event changes several tables and publishes alerts, and judging it again against
tables that already hold its effect would judge it wrongly, so its changes must land all or
nothing. Here an event changes one row only, and feeding it is idempotent and commutative
(``streams.core.assessment.facts``): fed again after a crash, or after later events, it gives
the same row. A SIGKILL leaves each row either before or after the event, both of which a
second feed turns into the same row. What must not happen is the offset moving past an
event whose row write is lost, so each write is acknowledged (``ChangelogWrites.settle``)
before the agent takes the next event, which is when Faust acks this one: a crash repeats
work, never loses it. (tests/integration/test_assessment_report.py compares the changelog
after a SIGKILL with the offline facts, row for row.) Rows of months older than
``ORDERHUB_ASSESSMENT_MONTHS`` go (tombstones on the changelog).

The KPIs are computed on request from the rows and the live ledger's entries by the same
``assess`` that the offline report runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contract.assessment import LedgerEntry
from contract.settings import Settings
from streams.core.assessment import ledger
from streams.core.assessment.facts import (
    FactRules,
    Facts,
    expired,
    feed,
    key_of,
    month_of,
    row_from_json,
    row_json,
    row_key,
)
from streams.core.assessment.kpis import AssessmentRules, assess, assessment_json
from streams.core.assessment.ruleinfo import assessment_rules
from streams.core.ingest import DeadLetter, decode
from streams.core.ruleload import load_rule_set
from streams.worker.durable import durable_table
from streams.worker.metrics import AssessmentCollector, is_active
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

FACTS_TABLE = "assessment-facts"
# The live ledger's table (streams.worker.ledger): entry id -> the entry, encoded by
# streams.core.assessment.ledger.encode.
LEDGER_TABLE = "ledger"


def _rules(settings: Settings) -> tuple[FactRules, AssessmentRules]:
    """The assessment's view of the rule set on disk at start (a rule file edited later
    changes the alerts at once, the SLA steps counted here at the next start)."""
    paths = sorted(Path(settings.rules_dir).glob("*.rule"))
    calendars = Path(settings.rules_dir) / "calendars"
    return assessment_rules(load_rule_set(paths, calendars, settings.timezone))


def register_assessment(app: Any, rt: Runtime, settings: Settings) -> None:
    """The facts table, the agent that feeds it and the ``/assessment/kpis`` view."""
    table = durable_table(
        app, FACTS_TABLE, rt.writes, default=None, partitions=1, use_partitioner=True
    )
    fact_rules, kpi_rules = _rules(settings)
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    events = app.topic(rt.topics.events, partitions=1, **raw)
    latest: list[str] = []  # the latest month seen: rows older than its retention go

    async def gather(stream: Any) -> None:
        async for record in stream.events():
            msg = record.message
            value = record.value if isinstance(record.value, bytes) else b""
            event = decode(value, msg.topic, msg.partition, msg.offset)
            if isinstance(event, DeadLetter):
                continue  # the state agent dead-letters it
            _feed(table, event, fact_rules, latest, settings.assessment_months)
            await rt.writes.settle()

    app.agent(events, name="orderhub.assessment")(gather)
    register_assessment_metrics(app, rt, table, kpi_rules)

    @app.page("/assessment/kpis")  # type: ignore[untyped-decorator]
    async def kpis(view: Any, request: Any) -> Any:
        month = request.query.get("month", "")
        region = request.query.get("region") or None
        if not _is_month(month):
            return view.json({"error": f"month={month!r}: give a month like 2026-10"}, status=400)
        facts: Facts = {key_of(k): row_from_json(v) for k, v in table.items() if v}
        result = assess(facts, ledger_entries(app), month, kpi_rules, region)
        return view.json(assessment_json(result))


def register_assessment_metrics(app: Any, rt: Runtime, table: Any, rules: AssessmentRules) -> None:
    """Per-region gauges of the current month on ``/metrics`` (``AssessmentCollector``)."""
    rt.metrics.registry.register(
        AssessmentCollector(
            facts=lambda: {key_of(k): row_from_json(v) for k, v in table.items() if v},
            entries=lambda: ledger_entries(app),
            rules=rules,
            now=rt.clock.now,
            active=lambda: is_active(app, rt.topics.events),
        )
    )


def _feed(table: Any, event: Any, rules: FactRules, latest: list[str], months: int) -> None:
    """Fold ``event`` into its row; rows older than ``months`` months (ORDERHUB_ASSESSMENT_MONTHS)
    behind the latest month seen go."""
    probe: Facts = {}
    key = feed(probe, event, rules)
    if key is None:
        return
    stored = table.get(row_key(key))
    facts: Facts = {key: row_from_json(stored)} if stored else {}
    feed(facts, event, rules)
    updated = row_json(facts[key])
    if updated != stored:
        table[row_key(key)] = updated
    month = month_of(key[1])
    if not latest or month > latest[0]:
        latest[:] = [month]
        for old in expired((key_of(k) for k in list(table.keys())), month, months):
            del table[row_key(old)]


def _is_month(text: str) -> bool:
    parts = text.split("-")
    return (
        len(parts) == 2
        and len(text) == 7
        and parts[0].isdigit()
        and parts[1] in {f"{m:02d}" for m in range(1, 13)}
    )


def ledger_entries(app: Any) -> Iterable[LedgerEntry]:
    """The live ledger's entries (none when this worker keeps no ledger table)."""
    try:
        source = app.tables[LEDGER_TABLE]
    except KeyError:
        return []
    return [ledger.decode(value) for value in source.values() if value]
