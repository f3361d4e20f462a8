"""How far the worker got per partition: what `tables show --wait`, `worker status` and the
tests read to know every record now on a topic was handled."""

from __future__ import annotations

from streams.worker.runtime import Progress


def test_a_record_held_in_the_merge_keeps_the_position_though_a_later_one_is_done() -> None:
    progress = Progress()
    progress.done("orders", 2, 40)
    assert progress.positions == {"orders": {2: 41}}
    progress.hold("orders", 2, 41)  # a good record waits in the event-time merge
    progress.done("orders", 2, 42)  # a later bad one is dead-lettered at once
    assert progress.positions == {"orders": {2: 41}}  # 41 is not handled yet
    progress.done("orders", 2, 41)
    assert progress.positions == {"orders": {2: 43}}


def test_the_oldest_held_record_sets_the_position() -> None:
    progress = Progress()
    for offset in (5, 6, 7):
        progress.hold("plans", 0, offset)
    assert progress.positions == {"plans": {0: 5}}
    progress.done("plans", 0, 6)
    assert progress.positions == {"plans": {0: 5}}
    progress.done("plans", 0, 5)
    assert progress.positions == {"plans": {0: 7}}
    progress.done("plans", 0, 7)
    assert progress.positions == {"plans": {0: 8}}


def test_a_forgotten_partition_has_no_position_and_no_held_record() -> None:
    progress = Progress()
    progress.hold("orders", 1, 3)
    progress.done("orders", 0, 9)
    progress.forget("orders", 1)
    assert progress.positions == {"orders": {0: 10}}
    progress.done("orders", 1, 20)  # handed back later: from where it is now
    assert progress.positions == {"orders": {0: 10, 1: 21}}
