"""Ingest forwards records in event-time order across input partitions (streams.worker.merge)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streams.worker.merge import EventTimeMerge

MONDAY = datetime(2026, 11, 2, 9, tzinfo=timezone(timedelta(hours=8)))


def hour(n: int) -> datetime:
    return MONDAY + timedelta(hours=n)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pop_ready(m: EventTimeMerge[str]) -> list[str]:
    """Every record that may go now, in order, as the forwarder takes them."""
    ready: list[str] = []
    while (found := m.next_ready()) is not None:
        ready.append(m.pop(found[0]))
    return ready


def merge(window: float = 2.0) -> tuple[EventTimeMerge[str], Clock]:
    clock = Clock()
    return EventTimeMerge(window=window, monotonic=clock), clock


def test_a_burst_across_topics_comes_out_in_event_time_order() -> None:
    m, _ = merge()
    m.expect(["orders:0", "inventory:0"])
    m.push("orders:0", hour(1), "order 10:00")
    m.push("orders:0", hour(3), "eta 12:00")
    assert pop_ready(m) == []  # inventory may still deliver something earlier
    m.push("inventory:0", hour(2), "stock 11:00")
    m.push("inventory:0", hour(4), "stock 13:00")
    assert pop_ready(m) == ["order 10:00", "stock 11:00", "eta 12:00"]
    assert len(m) == 1  # 13:00 waits: orders may still deliver something before it


def test_a_silent_source_holds_a_record_back_for_the_window_only() -> None:
    m, clock = merge(window=2.0)
    m.expect(["orders:0", "plans:0"])
    m.push("orders:0", hour(1), "a")
    clock.now = 1.9
    assert pop_ready(m) == []
    clock.now = 2.0
    assert pop_ready(m) == ["a"]


def test_a_source_already_past_the_time_does_not_hold_anything_back() -> None:
    m, _ = merge()
    m.expect(["orders:0", "inventory:0"])
    m.push("inventory:0", hour(5), "stock 14:00")
    assert pop_ready(m) == []  # orders has delivered nothing yet
    m.push("orders:0", hour(6), "order 15:00")
    assert pop_ready(m) == ["stock 14:00"]
    m.push("inventory:0", hour(7), "stock 16:00")
    assert pop_ready(m) == ["order 15:00"]


def test_one_sources_records_keep_their_order_whatever_their_times() -> None:
    m, clock = merge()
    m.push("orders:0", hour(3), "confirmed, dated 12:00")
    m.push("orders:0", hour(1), "received, dated 10:00 but sent after")
    m.push("orders:1", hour(2), "other order 11:00")
    clock.now = 5.0
    assert pop_ready(m) == [
        "other order 11:00",
        "confirmed, dated 12:00",
        "received, dated 10:00 but sent after",
    ]


def test_window_zero_forwards_everything_as_it_arrives() -> None:
    m, _ = merge(window=0.0)
    m.expect(["orders:0", "plans:0"])
    m.push("orders:0", hour(2), "b")
    m.push("orders:0", hour(1), "a")
    assert pop_ready(m) == ["b", "a"]


def test_a_partition_handed_to_another_worker_stops_holding_records_back() -> None:
    m, _ = merge()
    m.expect(["orders:0", "orders:1"])
    m.push("orders:0", hour(1), "a")
    assert pop_ready(m) == []  # orders:1 may still deliver something earlier
    m.expect(["orders:0"])  # a rebalance gave orders:1 to another worker
    assert pop_ready(m) == ["a"]


def test_a_record_stays_held_until_popped_so_a_failed_send_loses_nothing() -> None:
    m, _ = merge(window=0.0)
    m.push("orders:0", hour(1), "a")
    assert m.next_ready() == ("orders:0", "a")
    assert m.next_ready() == ("orders:0", "a")  # the send failed: still there
    assert m.pop("orders:0") == "a"
    assert m.next_ready() is None and len(m) == 0
