"""The worker's per-region assessment gauges on /metrics, scraped from a running worker: the
figures of a few hand-counted events, and the same as ``/assessment/kpis`` says.

North's approved daily plan for X100: 10 on Thu 8 Oct 2026, 10 on Fri 9 Oct; shipped 10 on
the 8th and 6 on the 9th (short): on-time 1 of 2 lines = 0.5, fulfilment 16 of 20 = 0.8.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.stream_harness import Worker, lines

RULES = Path(__file__).resolve().parents[2] / "rules"


def events() -> list[dict[str, Any]]:
    common = {"source": "test", "region": "north", "model": "X100"}
    found: list[dict[str, Any]] = []
    for day in (8, 9):
        found.append(
            {
                **common,
                "event_id": f"plan-{day}",
                "type": "plan.daily",
                "event_time": "2026-10-05T09:00:00+08:00",
                "week_start": "2026-10-05",
                "day": f"2026-10-{day:02d}",
                "quantity": 10,
                "compiled_by": "li",
                "approved_by": "zhao",
            }
        )
    for n, (day, qty) in enumerate([(8, 10), (9, 6)], start=1):
        found.append(
            {
                **common,
                "event_id": f"ship-{n}",
                "type": "shipment.dispatched",
                "event_time": f"2026-10-{day:02d}T16:00:00+08:00",
                "shipment_id": f"SH-{n}",
                "order_id": f"SO-{n}",
                "quantity": qty,
            }
        )
    return found


def gauges(worker: Worker) -> dict[tuple[str, str, str], float]:
    """(metric, month, region) -> value of the ``orderhub_assessment_*`` samples."""
    url = f"http://127.0.0.1:{worker.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("orderhub_assessment_"):
            series, value = line.rsplit(" ", 1)
            name, _, labels = series.partition("{")
            pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(","))
            found[(name, pairs["month"].strip('"'), pairs["region"].strip('"'))] = float(value)
    return found


def test_the_worker_serves_the_months_figures_per_region(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(RULES))
    monkeypatch.setenv("ORDERHUB_REORDER_WINDOW", "1")
    worker = Worker(bootstrap=kafka_bootstrap, home=tmp_path / "home")
    worker.start()
    try:
        worker.publish(lines(events()))
        worker.caught_up()
        on_time = ("orderhub_assessment_daily_plan_on_time_ratio", "2026-10", "north")
        fulfilment = ("orderhub_assessment_demand_fulfilment_ratio", "2026-10", "north")
        deadline = time.monotonic() + 60
        got = gauges(worker)
        while (got.get(on_time), got.get(fulfilment)) != (0.5, 0.8):
            assert time.monotonic() < deadline, (got, worker.log_tail())
            time.sleep(1)
            got = gauges(worker)
        kpis = worker.web.assessment("2026-10")
        [month] = [p for p in kpis["periods"] if p["period"] == "month"]
        assert (month["on_time_rate"], month["fulfilment"]) == (0.5, 0.8)
        assert "north" in {row["region"] for row in kpis["region_fines"]}
        for row in kpis["region_fines"]:
            region = row["region"]
            assert got[("orderhub_assessment_breaches", "2026-10", region)] == row["breaches"]
            assert got[("orderhub_assessment_fines_cny", "2026-10", region)] == float(row["amount"])
    finally:
        worker.stop()
