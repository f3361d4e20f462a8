"""Hot standby, the pure parts: who is active, what a rebalance keeps, a standby's health,
and where each worker instance on one machine keeps its port and files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contract.settings import Settings
from streams.worker import control as worker
from streams.worker.assign import one_active
from streams.worker.gaps import OffsetTracker, kept
from streams.worker.health import Facts, assess, describe, role


@dataclass
class Share:
    actives: dict[str, list[int]] = field(default_factory=dict)
    standbys: dict[str, list[int]] = field(default_factory=dict)


def test_one_worker_gets_every_active_partition_the_others_every_changelog() -> None:
    # As Faust's sticky assignor left it after a second worker joined: one input
    # partition each moved to it; the tables stayed with the first.
    first = Share({"orders": [0, 2], "events": [0], "stock-changelog": [0]}, {"orders": [1]})
    second = Share({"orders": [1]}, {"events": [0], "stock-changelog": [0], "orders": [0]})
    shares = {"m-2": first, "m-1": second}
    assert one_active(shares, {"stock-changelog": 1, "orders-changelog": 1}) == "m-2"
    assert first == Share({"orders": [0, 1, 2], "events": [0], "stock-changelog": [0]}, {})
    assert second == Share({}, {"orders-changelog": [0], "stock-changelog": [0]})


def test_alone_a_worker_keeps_everything() -> None:
    only = Share({"orders": [0, 1, 2], "events": [0]})
    assert one_active({"m": only}, {"stock-changelog": 1}) == "m"
    assert only == Share({"orders": [0, 1, 2], "events": [0]}, {})


def test_a_rebalance_keeps_positions_only_of_partitions_held_throughout() -> None:
    tracker = OffsetTracker()
    for partition, offset in ((0, 10), (1, 38800)):
        tracker.handled("orders", partition, offset)
    before = {("orders", 0), ("orders", 1)}
    # Another worker took orders[1]; it handled up to 45239 and committed 45240.
    assert tracker.keep(kept(before, {("orders", 0)})) == [("orders", 1)]
    assert tracker.missing("orders", 0, 11) == range(11, 11)  # still known: no gap
    assert not tracker.knows("orders", 1)
    # Handed back: the committed offset is where it starts, no gap of 38801..45239.
    assert tracker.keep(kept({("orders", 0)}, before)) == []
    tracker.start_at("orders", 1, 45240)
    assert tracker.missing("orders", 1, 45240) == range(45240, 45240)
    assert kept(None, before) == set()  # the first assignment keeps nothing


def facts(recovered: bool, ready: bool) -> Facts:
    return Facts(
        ready=ready,
        recovered=recovered,
        broker_reachable=True,
        broker_seconds=1.0,
        broker_error=None,
        group_joined=True,
        lag={},
        stalled={},
    )


def test_a_standby_is_healthy_and_says_so() -> None:
    assert assess(facts(recovered=True, ready=False)) == {}
    assert (role(True, True), role(True, False), role(False, True)) == (
        "active",
        "standby",
        "starting",
    )
    doc = {"healthy": True, "problems": [], "recovered": True, "role": "standby"}
    assert describe(doc)[:1] + [line for line in describe(doc) if "role" in line] == [
        "health: OK",
        "role: standby",
    ]


def test_each_instance_has_its_own_port_and_files(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, web_port=7000)
    assert [worker.at_instance(settings, n).web_port for n in (0, 1, 2)] == [7000, 7001, 7002]
    assert worker.WorkerFiles.of(settings, 0) == worker.WorkerFiles(
        tmp_path / "worker.pid", tmp_path / "worker.log"
    )
    assert worker.WorkerFiles.of(settings, 2).log == tmp_path / "worker-2.log"
    assert worker.instances(settings) == [0]  # none started: the default one
    (tmp_path / "worker-2.pid").write_text("1\n")
    (tmp_path / "worker-x.pid").write_text("1\n")
    assert worker.instances(settings) == [2]
    (tmp_path / "worker.pid").write_text("1\n")
    assert worker.instances(settings) == [0, 2]
    with pytest.raises(worker.StartupError, match="out of range"):
        worker.at_instance(Settings(home=tmp_path, web_port=65535), 1)
