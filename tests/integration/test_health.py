"""`worker status` and /healthz tell the truth: not healthy while the broker is down or a
partition is stalled, healthy again once it recovers; an outage logs each change once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.kafka import DeployError, LocalKafka
from tests.integration.stream_harness import Worker, lines, oracle

pytestmark = pytest.mark.integration

HOLD = Path(__file__).parent / "faults" / "hold"
ORDERHUB = Path(sys.executable).with_name("orderhub")
WAIT = 90.0


@dataclass
class HealthWorker(Worker):
    """The harness's worker with a few more settings (checks every second)."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "ORDERHUB_HEALTH_INTERVAL": "1", **self.extra}


def until(worker: Worker, wanted: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """The first /healthz document that satisfies ``wanted`` (fails after WAIT s)."""
    deadline = time.monotonic() + WAIT
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = worker.web.health()
        if wanted(doc):
            return doc
        time.sleep(0.5)
    raise AssertionError(f"never {what}: last /healthz {doc}\n{worker.log_tail()}")


def orderhub(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERHUB), *args], env=worker.env, capture_output=True, text=True, timeout=60
    )


def orders(count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"O{n}-c",
            "type": "order.confirmed",
            "event_time": f"2026-11-02T09:{n:02d}:00+08:00",
            "source": "erp",
            "order_id": f"O{n}",
            "region": ("north", "east")[n % 2],
            "model": "X1",
            "quantity": n + 1,
            "amount": "10.00",
        }
        for n in range(count)
    ]


@pytest.fixture
def own_broker(tmp_path: Path) -> Any:
    """A broker for this test alone: it is stopped and started again (never the shared one)."""
    kafka = LocalKafka(tmp_path / "kafka", new_session=False)
    try:
        kafka.up()
    except DeployError as exc:
        pytest.fail(f"no local broker for the outage test: {exc}", pytrace=False)
    try:
        yield kafka
    finally:
        kafka.down()


def test_health_follows_a_broker_outage_and_the_log_stays_short(
    own_broker: LocalKafka, tmp_path: Path
) -> None:
    before = own_broker.status()
    assert before is not None
    worker = HealthWorker(bootstrap=before.bootstrap, home=tmp_path / "home")
    worker.start()
    try:
        until(worker, lambda d: d["healthy"], "healthy")
        ok = orderhub(worker, "worker", "status")
        assert (ok.returncode, ok.stdout.splitlines()[1]) == (0, "health: OK")
        log_before = len(worker.log_tail(lines=1_000_000))

        own_broker.down()
        down = until(worker, lambda d: d["broker"]["reachable"] is False, "broker unreachable")
        assert down["healthy"] is False
        assert down["problems"][0].startswith("broker unreachable")
        status = orderhub(worker, "worker", "status")
        assert status.returncode == 2
        assert "broker reachable: NO" in status.stdout.splitlines()
        shown = orderhub(worker, "tables", "show", "in-transit")
        assert shown.returncode == 0
        assert "orderhub: warning: this may be stale: the worker is not healthy: " in shown.stderr
        assert "broker unreachable" in shown.stderr
        time.sleep(10)  # an outage long enough for the client's retries to pile up

        after = own_broker.up()
        assert after.state.bootstrap == before.bootstrap  # a restart keeps its port
        until(worker, lambda d: d["healthy"], "healthy again")
        again = orderhub(worker, "worker", "status")
        assert (again.returncode, again.stdout.splitlines()[1]) == (0, "health: OK")

        outage = worker.log_tail(lines=1_000_000)[log_before:]
        assert outage.count("health: broker unreachable") == 1
        assert outage.count("health: recovered: broker reachable") == 1
        for repeated in ("Unable connect to node with id", "Failed fetch messages from"):
            # One line, plus one with a count per 30 s window (was hundreds a second).
            assert outage.count(repeated) <= 3, repeated

        records = orders(6)
        worker.publish(lines(records))
        worker.caught_up()
        assert worker.qty("in_transit_region") == {
            key: int(entry["qty"]) for key, entry in oracle(records)["in_transit_region"].items()
        }
    finally:
        worker.stop()


def test_health_reports_a_stalled_partition_until_it_moves_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    hold = tmp_path / "hold"
    worker = HealthWorker(
        bootstrap=kafka_bootstrap,
        home=tmp_path / "home",
        python_path=(HOLD,),
        extra={"ORDERHUB_FAULT_HOLD": str(hold), "ORDERHUB_STALL_SECONDS": "3"},
    )
    worker.start()
    try:
        until(worker, lambda d: d["healthy"], "healthy")
        hold.touch()  # the producer takes no more writes: ingest cannot forward
        records = orders(6)
        worker.publish(lines(records))
        stalled = until(worker, lambda d: bool(d["stalled"]), "a stalled partition")
        assert stalled["healthy"] is False
        assert stalled["broker"]["reachable"] is True
        for tp, info in stalled["stalled"].items():
            assert tp.startswith(f"{worker.prefix}.")
            assert info["lag"] > 0
            assert any(p.startswith(f"{tp} stalled: ") for p in stalled["problems"])
        status = orderhub(worker, "worker", "status")
        assert status.returncode == 2
        assert "stalled partitions: none" not in status.stdout

        hold.unlink()
        until(worker, lambda d: d["healthy"] and not d["stalled"], "moving again")
        worker.caught_up()
        assert worker.qty("in_transit_region") == {"north": 1 + 3 + 5, "east": 2 + 4 + 6}
        assert orderhub(worker, "worker", "status").returncode == 0
        log = worker.log_tail(lines=100_000)
        assert "stalled: " in log and "moving again" in log
    finally:
        hold.unlink(missing_ok=True)
        worker.stop()
