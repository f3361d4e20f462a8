"""Which records an agent must read itself because Faust skipped them (streams.worker.gaps)."""

from __future__ import annotations

from streams.worker.gaps import OffsetTracker, overtaken


def handle(tracker: OffsetTracker, offset: int, partition: int = 0) -> range | None:
    missing = tracker.missing("t", partition, offset)
    if missing is not None:
        tracker.handled("t", partition, offset)
    return missing


def test_consecutive_records_miss_nothing() -> None:
    tracker = OffsetTracker()
    assert [handle(tracker, n) for n in (5, 6, 7)] == [range(5, 5), range(6, 6), range(7, 7)]


def test_a_jump_names_exactly_the_skipped_offsets() -> None:
    tracker = OffsetTracker()
    handle(tracker, 0)
    handle(tracker, 6)  # 1..5 were handled from the gap read in the agent
    assert list(tracker.missing("t", 0, 15) or []) == list(range(7, 15))


def test_records_delivered_again_after_a_seek_are_repeats() -> None:
    tracker = OffsetTracker()
    for n in range(10):
        handle(tracker, n)
    assert tracker.missing("t", 0, 7) is None
    assert tracker.missing("t", 0, 9) is None
    assert tracker.missing("t", 0, 10) == range(10, 10)


def test_partitions_are_tracked_separately() -> None:
    tracker = OffsetTracker()
    handle(tracker, 100, partition=0)
    assert tracker.missing("t", 1, 3) == range(3, 3)  # first record of partition 1
    assert tracker.missing("t", 0, 102) == range(101, 102)


def test_the_committed_offset_is_where_a_restarted_worker_begins() -> None:
    tracker = OffsetTracker()
    tracker.start_at("t", 0, 7)
    assert tracker.missing("t", 0, 0) is None  # Faust reads from 0 for a moment: repeats
    assert tracker.missing("t", 0, 15) == range(7, 15)  # 7..14 never came: read them


def test_an_unknown_start_leaves_the_first_record_to_set_it() -> None:
    tracker = OffsetTracker()
    tracker.start_at("t", 0, None)
    assert not tracker.knows("t", 0)
    assert tracker.missing("t", 0, 4) == range(4, 4)


def test_a_partition_another_worker_moved_on_is_not_resumed_from_here() -> None:
    """Frozen through a rebalance and handed the same partitions again, a worker sees them
    "held throughout"; where the group's offset is past its position, another worker
    handled records there, so it resumes from the committed offset, not from a "gap"."""
    positions = {("orders", 0): 300, ("orders", 1): 120, ("plans", 0): None}
    committed = {("orders", 0): 700, ("orders", 1): 118, ("plans", 0): 9}
    assert overtaken(positions, committed) == {("orders", 0)}
