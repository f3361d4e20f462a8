"""The worker's web views: the live tables, the alerts firing now and the assessment ledger
as JSON, Prometheus metrics, and a health check.

``orderhub tables show`` and the integration tests read the tables here, so what they see
is what the worker holds, not a second computation.
"""

from __future__ import annotations

import os
import re
from typing import Any

from streams.core.firing import firing_alert, firing_alerts
from streams.core.state import TABLE_NAMES, public
from streams.worker.health import HealthMonitor, role, tables_current
from streams.worker.metrics import CONTENT_TYPE, DeadLetterReader, WorkerCollector
from streams.worker.runtime import Runtime

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def health(app: Any, rt: Runtime, monitor: HealthMonitor | None = None) -> dict[str, Any]:
    """Ready once the tables are recovered and the events topic is assigned to us (the
    active worker, the one whose progress says whether everything was handled); healthy
    when the broker answers, the worker is in its group, its tables are recovered, nothing
    is stalled and the rules have no errors (``streams.worker.health``): a standby is healthy."""
    assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in app.consumer.assignment())
    recovered = tables_current(app)
    has_events = any(name.startswith(f"{rt.topics.events}[") for name in assigned)
    return {
        "pid": os.getpid(),  # whose answer this is: `worker start` waits for its own child
        "ready": recovered and has_events,
        "role": role(recovered, has_events),
        "recovered": recovered,
        "assigned": assigned,
        "progress": {
            topic: {str(p): pos for p, pos in parts.items()}
            for topic, parts in rt.progress.positions.items()
        },
        **(monitor.status() if monitor is not None else {}),
    }


def ledger_view(rt: Runtime, month: str | None, region: str | None) -> tuple[Any, int]:
    """``/assessment/ledger[?month=YYYY-MM&region=R]``: the ledger's entries, and status."""
    if rt.ledger is None:
        return {"error": "this worker keeps no assessment ledger"}, 404
    if month is not None and not MONTH.match(month):
        return {"error": f"month {month!r} is not YYYY-MM"}, 400
    return rt.ledger.view(month, region or None), 200


def register_views(app: Any, rt: Runtime) -> None:
    """Define ``/healthz``, ``/metrics``, ``/tables/``, ``/tables/{name}/``, ``/alerts/`` and
    ``/alerts/{fingerprint}`` on ``app``, and the tasks of the health monitor (it starts with
    the web views, once the tables are recovered) and of the dead-letter count."""
    monitor = HealthMonitor(app, rt, rt.health)
    app.task(monitor.run)
    rt.metrics.registry.register(WorkerCollector(app, rt, monitor))
    letters = DeadLetterReader(rt.kafka_client, rt.topics.dead_letter, rt.metrics)
    app.task(letters.run)

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics(view: Any, request: Any) -> Any:
        return view.bytes(rt.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    @app.page("/healthz")  # type: ignore[untyped-decorator]
    async def healthz(view: Any, request: Any) -> Any:
        status = health(app, rt, monitor)
        return view.json(status, status=200 if status["healthy"] else 503)

    @app.page("/tables/")  # type: ignore[untyped-decorator]
    async def list_tables(view: Any, request: Any) -> Any:
        return view.json({"tables": {name: len(rt.tables[name]) for name in TABLE_NAMES}})

    @app.page("/assessment/ledger")  # type: ignore[untyped-decorator]
    async def ledger(view: Any, request: Any) -> Any:
        query = request.query
        doc, status = ledger_view(rt, query.get("month"), query.get("region"))
        return view.json(doc, status=status)

    @app.page("/tables/{name}/")  # type: ignore[untyped-decorator]
    async def show_table(view: Any, request: Any, name: str) -> Any:
        table = rt.tables.get(name)
        if table is None:
            known = ", ".join(TABLE_NAMES)
            return view.json({"error": f"no table {name!r}; known: {known}"}, status=404)
        return view.json({key: public(entry) for key, entry in table.items()})

    register_alert_views(app, rt)


def register_alert_views(app: Any, rt: Runtime) -> None:
    """``/alerts/``: the alerts firing now (a JSON list, oldest first), as published on the
    alerts topic; ``/alerts/{fingerprint}``: one alert's state, the page an alert's
    ``generatorURL`` points at (404 once it is resolved: the engine forgets it then)."""

    @app.page("/alerts/")  # type: ignore[untyped-decorator]
    async def list_alerts(view: Any, request: Any) -> Any:
        return view.json(firing_alerts(rt.tables["rule_alerts"].items()))

    @app.page("/alerts/{fingerprint}")  # type: ignore[untyped-decorator]
    async def show_alert(view: Any, request: Any, fingerprint: str) -> Any:
        doc, status = alert_state(rt.tables["rule_alerts"], fingerprint)
        return view.json(doc, status=status)


def alert_state(rule_alerts: Any, fingerprint: str) -> tuple[dict[str, Any], int]:
    """The ``/alerts/{fingerprint}`` document and its HTTP status."""
    alert = firing_alert(rule_alerts, fingerprint)
    if alert is None:
        return {
            "fingerprint": fingerprint,
            "status": "not firing",
            "error": f"no alert {fingerprint!r} fires now (resolved, or never raised here)",
        }, 404
    return {"fingerprint": fingerprint, "status": "firing", "alert": alert}, 200
