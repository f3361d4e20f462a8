"""`orderhub monitoring up` (what `make run` starts): the real Alertmanager and Prometheus,
wired to the worker, the sink and each other, and stopped again by `down`."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.kafka import free_ports
from deploy.monitor import LocalMonitoring, Ports, missing_binaries
from deploy.process import process_running


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _eventually(url: str, pick: Callable[[Any], Any], seconds: float = 20.0) -> Any:
    """``pick`` of the answer once it is non-empty: Prometheus discovers targets after ready."""
    deadline = time.monotonic() + seconds
    while True:
        found = pick(_get(url))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.fixture
def stack(tmp_path: Path) -> LocalMonitoring:
    # Never a skip: deploy/packages.sh (make test) installs the binaries.
    assert missing_binaries() == [], "run deploy/packages.sh"
    am, prom, sink, worker = free_ports(4)
    return LocalMonitoring(
        tmp_path, Ports(alertmanager=am, prometheus=prom, sink_metrics=sink, worker=worker)
    )


def test_up_wires_prometheus_to_the_hub_and_alertmanager_and_down_stops_all(
    stack: LocalMonitoring,
) -> None:
    # The sink stands in as a process that waits: its own behaviour has its own tests.
    sink = [sys.executable, "-c", "import sys, time; print(sys.argv[1:]); time.sleep(600)"]
    try:
        parts = stack.up(sink, say=lambda _m: None)
        assert [p.name for p in parts] == ["alertmanager", "prometheus", "sink"]
        ports = stack.ports
        prom = f"http://127.0.0.1:{ports.prometheus}"
        targets = _eventually(f"{prom}/api/v1/targets", lambda a: a["data"]["activeTargets"])
        assert sorted((t["labels"]["job"], t["scrapeUrl"]) for t in targets) == [
            ("orderhub-alertmanager-sink", f"http://127.0.0.1:{ports.sink_metrics}/metrics"),
            ("orderhub-worker", f"http://127.0.0.1:{ports.worker}/metrics"),
        ]
        managers = _eventually(
            f"{prom}/api/v1/alertmanagers", lambda a: a["data"]["activeAlertmanagers"]
        )
        assert [m["url"] for m in managers] == [
            f"http://127.0.0.1:{ports.alertmanager}/api/v2/alerts"
        ]
        status = _get(f"http://127.0.0.1:{ports.alertmanager}/api/v2/status")
        assert status["cluster"]["status"] == "disabled"
        # The sink is told where Alertmanager is.
        sink_part = next(p for p in parts if p.name == "sink")
        assert f"http://127.0.0.1:{ports.alertmanager}" in Path(sink_part.log).read_text()
        # A second `up` starts nothing twice.
        again = stack.up(sink, say=lambda _m: None)
        assert [p.pid for p in again] == [p.pid for p in parts]
    finally:
        stopped = stack.down()
    assert sorted(p.name for p in stopped) == ["alertmanager", "prometheus", "sink"]
    assert not any(process_running(p.pid) for p in stopped)
    assert stack.status() == []
