"""Honest health and a bounded log: the pure parts of streams.worker.health, logfilter, backoff."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from streams.core.hooks import NoRules
from streams.worker import backoff
from streams.worker.health import (
    EXIT_HEALTHY,
    EXIT_UNHEALTHY,
    Counted,
    Facts,
    StallWatch,
    assess,
    describe,
    exit_code,
    no_answer,
    rule_status,
    staleness,
)
from streams.worker.logfilter import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def logged() -> tuple[Collect, RepeatFilter, Clock]:
    clock = Clock()
    handler = Collect()
    repeat = RepeatFilter(window=30.0, clock=clock)
    handler.addFilter(repeat)
    for name in ("aiokafka.client", "streams.worker.agents"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    yield handler, repeat, clock
    for name in ("aiokafka.client", "streams.worker.agents"):
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).propagate = True


def test_an_outage_flood_becomes_one_line_then_one_line_with_the_count(
    logged: tuple[Collect, RepeatFilter, Clock],
) -> None:
    handler, repeat, clock = logged
    client = logging.getLogger("aiokafka.client")
    for n in range(1000):
        clock.now = 1000.0 + n * 0.02  # 50 a second for 20 s
        client.error("Unable connect to node with id %s: %s", 1, f"refused #{n}")
    assert handler.lines == ["aiokafka.client Unable connect to node with id 1: refused #0"]
    assert repeat.dropped == 999
    clock.now = 1031.0  # the window is over: the next one passes with the count
    client.error("Unable connect to node with id %s: %s", 1, "refused again")
    assert handler.lines[1:] == [
        "aiokafka.client Unable connect to node with id 1: refused again "
        "[and 999 more like it in 31 s]"
    ]
    assert repeat.dropped == 0


def test_the_worker_s_own_lines_and_client_info_lines_are_never_dropped(
    logged: tuple[Collect, RepeatFilter, Clock],
) -> None:
    handler, _repeat, _clock = logged
    for n in range(5):
        logging.getLogger("streams.worker.agents").warning("dead letter %s", n)
    logging.getLogger("aiokafka.client").setLevel(logging.INFO)
    for _ in range(3):
        logging.getLogger("aiokafka.client").info("Discovered coordinator")
    assert len(handler.lines) == 8


def test_pending_repeats_are_summarised_once_when_asked(
    logged: tuple[Collect, RepeatFilter, Clock],
) -> None:
    _handler, repeat, clock = logged
    client = logging.getLogger("aiokafka.client")
    for _ in range(41):
        client.error("Unable to update metadata from %s", [1])
    clock.now += 12
    assert repeat.summaries() == [
        "ERROR aiokafka.client: 'Unable to update metadata from %s' repeated 40 times in 12 s"
    ]
    assert repeat.summaries() == []  # counted once


def test_failed_metadata_refreshes_pause_longer_each_time_and_success_resets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka's sender loops on metadata refreshes with no pause (streams.worker.backoff)."""
    from aiokafka.client import AIOKafkaClient

    outcomes = iter([False, False, False, True, False])

    async def refresh(self: Any, cluster: Any, topics: Any) -> bool:
        return next(outcomes)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", refresh)
    monkeypatch.setattr(backoff.asyncio, "sleep", sleep)
    backoff.install()
    backoff.install()  # twice is once
    client = object.__new__(AIOKafkaClient)

    async def five() -> list[bool]:
        return [await client._metadata_update(None, set()) for _ in range(5)]

    assert asyncio.run(five()) == [False, False, False, True, False]
    assert slept == [0.1, 0.2, 0.4, 0.1]
    assert [backoff.pause_after(n) for n in (0, 1, 5, 50)] == [0.0, 0.1, 1.6, 2.0]


def facts(**changes: Any) -> Facts:
    base: dict[str, Any] = {
        "ready": True,
        "recovered": True,
        "broker_reachable": True,
        "broker_seconds": 100.0,
        "broker_error": None,
        "group_joined": True,
        "lag": {"p.orders[0]": 0},
        "stalled": {},
    }
    return Facts(**{**base, **changes})


def test_a_worker_is_healthy_only_when_nothing_is_wrong() -> None:
    assert assess(facts()) == {}
    down = assess(facts(broker_reachable=False, broker_seconds=20.4, broker_error="refused"))
    assert down == {"broker": "broker unreachable for 20 s: refused"}
    assert assess(facts(group_joined=False)) == {"group": "not a member of the consumer group"}
    assert assess(facts(recovered=False, ready=False)) == {"recovery": "tables not recovered yet"}
    stalled = assess(facts(lag={"p.orders[1]": 7}, stalled={"p.orders[1]": 65.0}))
    assert stalled == {
        "stalled p.orders[1]": "p.orders[1] stalled: 7 records waiting, no progress for 65 s"
    }
    errors = ("r.rule:3:5: E101 unknown name", "r.rule:9:1: E200 x")
    assert assess(facts(rule_errors=errors)) == {
        "rules": "rule set has 2 error(s), first: r.rule:3:5: E101 unknown name"
    }
    assert assess(facts(broker_reachable=None))["broker"] == "broker not checked yet"


def test_a_partition_is_stalled_when_it_lags_and_its_position_does_not_move() -> None:
    watch = StallWatch()
    assert watch.update("t[0]", position=5, lag=3, now=0.0) == 0.0
    assert watch.update("t[0]", position=5, lag=3, now=61.0) == 61.0
    assert watch.update("t[0]", position=6, lag=2, now=62.0) == 0.0  # it moved
    assert watch.update("t[0]", position=6, lag=2, now=70.0) == 8.0
    assert watch.update("t[0]", position=6, lag=0, now=200.0) == 0.0  # nothing waits


def test_dead_letters_are_counted_over_the_window() -> None:
    counted = Counted(window=60.0)
    for now, end in ((0.0, 10), (30.0, 12), (70.0, 15), (100.0, 19)):
        counted.add(now, end)
    assert (counted.recent(), counted.total) == (7, 19)  # 19 - 12, the end at 30 s <= 100-60


def test_rule_status_is_read_from_a_hook_that_has_one() -> None:
    class Hook:
        def status(self) -> dict[str, Any]:
            return {"version": "abc123", "errors": ["a.rule:1:1: E1 bad"]}

    assert rule_status(Hook()) == {
        "version": "abc123",
        "errors": ["a.rule:1:1: E1 bad"],
        "evaluation_failures": {},
    }
    assert rule_status(object()) is None


def test_status_exit_codes_and_the_lines_a_person_reads() -> None:
    good = {"healthy": True, "problems": [], "broker": {"reachable": True}, "lag": {"t[0]": 0}}
    bad = {
        "healthy": False,
        "problems": ["broker unreachable for 9 s: refused"],
        "broker": {"reachable": False},
        "group": {"joined": False},
        "lag": {"t[0]": 4, "t[1]": 0},
        "stalled": {"t[0]": {"lag": 4}},
        "rules": {"version": "v1", "errors": ["a.rule:2:3: E9 oops"]},
    }
    assert (exit_code(good), exit_code(bad), exit_code({"ready": True})) == (
        EXIT_HEALTHY,
        EXIT_UNHEALTHY,
        EXIT_UNHEALTHY,
    )
    text = describe(bad)
    assert text[:3] == [
        "health: NOT OK",
        "  problem: broker unreachable for 9 s: refused",
        "broker reachable: NO",
    ]
    assert "lag: 4 records (t[0]: 4)" in text
    assert "stalled partitions: t[0]" in text
    assert "rule set: version v1, 1 error(s)" in text
    assert staleness(good) is None
    assert staleness(bad) == "the worker is not healthy: broker unreachable for 9 s: refused"
    assert staleness({**good, "lag": {"t[0]": 3}}) == "the worker has 3 records still to handle"
    # just seen caught up (tables show --wait): the monitor's older lag is not repeated,
    # an unhealthy worker still is
    assert staleness({**good, "lag": {"t[0]": 3}}, count_lag=False) is None
    assert staleness(bad, count_lag=False) == staleness(bad)


def test_the_broker_error_is_short() -> None:
    client = {"bootstrap_servers": ["h1:9092", "h2:9092"]}
    refused = no_answer(client, ConnectionError("x"))
    assert refused == "no answer from h1:9092,h2:9092 (ConnectionError)"
    assert no_answer(client, TimeoutError()) == "no answer from h1:9092,h2:9092 in time"


class FakeTP:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


class FakeApp:
    """What HealthMonitor reads of a Faust app: assignment, recovery, group coordinator."""

    def __init__(self, prefix: str) -> None:
        self.coordinator = SimpleNamespace(coordinator_id=1, member_id="m-1", generation=3)
        held = [FakeTP(f"{prefix}.events", 0), FakeTP(f"{prefix}.orders", 0)]
        consumer = SimpleNamespace(_coordinator=self.coordinator)
        self.consumer = SimpleNamespace(
            assignment=lambda: held, _thread=SimpleNamespace(_consumer=consumer)
        )
        completed = SimpleNamespace(is_set=lambda: True)
        self.tables = SimpleNamespace(recovery=SimpleNamespace(completed=completed))


def test_an_outage_logs_each_change_once_and_a_summary_every_period(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from contract.topics import Topics
    from streams.worker import health
    from streams.worker.runtime import Runtime

    clock = Clock()
    app = FakeApp("p")
    rt = Runtime(
        topics=Topics("p"), tables={}, hook=NoRules(), kafka_client={"bootstrap_servers": ["h:1"]}
    )
    rt.progress.done("p.events", 0, 9)
    rt.progress.done("p.orders", 0, 4)
    config = health.HealthConfig(interval=1.0, stall_seconds=60.0, summary_seconds=30.0)
    monitor = health.HealthMonitor(app, rt, config, clock=clock)
    broker_up = True

    async def probe(*args: Any) -> health.Probe:
        if not broker_up:
            raise ConnectionError("refused")
        ends = {"p.events[0]": 10, "p.orders[0]": 7, "p.dead-letter[0]": 2}
        return health.Probe(ends, {})

    monkeypatch.setattr(health, "probe", probe)
    caplog.set_level(logging.INFO, logger="streams.worker.health")

    def second(at: float) -> None:
        clock.now = 1000.0 + at
        asyncio.run(monitor.check())

    second(0)
    assert monitor.status()["healthy"] is True
    assert monitor.status()["lag"] == {"p.events[0]": 0, "p.orders[0]": 2}
    broker_up = False
    for at in range(1, 71):
        if at == 3:  # the heartbeat fails a little later: the coordinator is dead
            app.coordinator.coordinator_id = None
        second(at)
    down = monitor.status()
    assert down["healthy"] is False
    assert down["broker"] == {
        "reachable": False,
        "for_seconds": 69.0,
        "error": "no answer from h:1 (ConnectionError)",
        "checked_seconds_ago": 0.0,
    }
    broker_up = True
    app.coordinator.coordinator_id = 1
    second(71)
    assert monitor.status()["healthy"] is True
    assert [r.getMessage() for r in caplog.records] == [
        "health: broker unreachable: no answer from h:1 (ConnectionError)",
        "health: not a member of the consumer group",
        "health: not healthy for 30 s: broker unreachable for 30 s: no answer from h:1 "
        "(ConnectionError); not a member of the consumer group",
        "health: not healthy for 60 s: broker unreachable for 60 s: no answer from h:1 "
        "(ConnectionError); not a member of the consumer group",
        "health: recovered: broker reachable",
        "health: recovered: joined the consumer group",
        "health: healthy again after 70 s",
    ]
