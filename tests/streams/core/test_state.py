"""The table core: in-transit arithmetic, and exactly-once effect under redelivery."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from contract.events import Event, parse_event
from streams.core.state import StateView, apply_event, empty_tables, public

T0 = "2026-11-02T09:00:00+08:00"


def ev(n: int, type_: str, **fields: Any) -> Event:
    return parse_event(
        {"event_id": f"e{n}", "type": type_, "event_time": T0, "source": "erp", **fields}
    )


def order(n: int, type_: str, oid: str, region: str, model: str, **fields: Any) -> Event:
    return ev(n, type_, order_id=oid, region=region, model=model, **fields)


STREAM = [
    order(1, "order.confirmed", "O1", "north", "M1", quantity=5, amount="100"),
    order(2, "order.confirmed", "O2", "north", "M2", quantity=3, amount="60"),
    order(3, "order.confirmed", "O3", "east", "M1", quantity=7, amount="140"),
    order(4, "order.delivered", "O1", "north", "M1", quantity=2),
    order(5, "order.cancelled", "O3", "east", "M1"),
    order(6, "order.delivered", "O1", "north", "M1", quantity=3),
]


def run(events: list[Event], start_seq: int = 0) -> dict[str, dict[str, Any]]:
    tables = empty_tables()
    for seq, event in enumerate(events, start=start_seq):
        apply_event(tables, event, seq)
    return tables


def test_in_transit_counts_confirmed_minus_delivered_and_cancelled() -> None:
    view = StateView(run(STREAM[:4]))
    assert view.in_transit_region("north") == 6  # 5 + 3 - 2
    assert view.in_transit_region("east") == 7
    assert view.in_transit_model("M1") == 10  # 5 - 2 + 7
    assert view.in_transit_region_model("north", "M2") == 3


def test_delivery_and_cancellation_clear_the_order() -> None:
    tables = run(STREAM)
    view = StateView(tables)
    assert view.in_transit_region("north") == 3  # only O2 is left
    assert view.in_transit_region("east") == 0
    assert view.in_transit_model("M1") == 0
    assert tables["orders"]["O1"]["status"] == "delivered"
    assert tables["orders"]["O3"]["status"] == "cancelled"


def test_picking_up_a_special_order_ends_its_transit() -> None:
    events = [
        order(1, "order.confirmed", "O1", "north", "M1", quantity=4, amount="10", special=True),
        ev(2, "inventory.stocked", order_id="O1", region="north", model="M1", quantity=4),
        order(3, "order.picked_up", "O1", "north", "M1"),
    ]
    tables = run(events)
    assert StateView(tables).in_transit_region("north") == 0
    assert tables["orders"]["O1"]["status"] == "delivered"
    assert tables["orders"]["O1"]["delivered"] == 4


def test_over_delivery_never_makes_in_transit_negative() -> None:
    events = [
        order(1, "order.confirmed", "O1", "north", "M1", quantity=2, amount="10"),
        order(2, "order.delivered", "O1", "north", "M1", quantity=5),
    ]
    view = StateView(run(events))
    assert view.in_transit_region("north") == 0
    assert view.in_transit_model("M1") == 0


def test_redelivering_every_event_at_its_own_offset_changes_nothing() -> None:
    once = run(STREAM)
    tables = empty_tables()
    for seq, event in enumerate(STREAM):
        apply_event(tables, event, seq)
        apply_event(tables, event, seq)  # at-least-once: the same offset again
    assert tables == once


def test_a_crash_between_table_writes_is_repaired_by_redelivery() -> None:
    """The order record was written but the aggregates were lost: replay restores them."""
    tables = run(STREAM[:3])
    apply_event(tables, STREAM[3], 3)
    for name in ("in_transit_region", "in_transit_model", "in_transit_region_model"):
        tables[name] = run(STREAM[:3])[name]  # the aggregates' changelog writes were lost
    apply_event(tables, STREAM[3], 3)
    assert tables == run(STREAM[:4])


def test_the_same_event_under_a_new_offset_is_counted_once() -> None:
    tables = run(STREAM)
    for seq, event in enumerate(STREAM, start=100):
        apply_event(tables, event, seq)
    assert StateView(tables).in_transit_region("north") == 3


def test_apply_event_says_which_events_are_duplicates() -> None:
    tables = empty_tables()
    assert apply_event(tables, STREAM[0], 0) is True
    assert apply_event(tables, STREAM[0], 0) is True  # crash redelivery: rules may not have run
    assert apply_event(tables, STREAM[0], 7) is False  # the same event sent again later
    assert apply_event(tables, STREAM[1], 8) is True


def test_stale_redelivery_does_not_undo_newer_values() -> None:
    first = ev(1, "inventory.stock_level", model="M1", on_hand=10)
    second = ev(2, "inventory.stock_level", model="M1", on_hand=8)
    tables = run([first, second])
    apply_event(tables, first, 0)  # an old offset redelivered
    assert StateView(tables).stock_on_hand("M1") == 8


def test_forecast_aggregates_replace_rather_than_add() -> None:
    week = "2026-11-02"
    events = [
        ev(1, "plan.forecast", region="north", model="M1", week_start=week, quantity=10),
        ev(2, "plan.forecast", region="north", model="M2", week_start=week, quantity=4),
        ev(3, "plan.forecast", region="east", model="M1", week_start=week, quantity=6),
        ev(4, "plan.forecast", region="north", model="M1", week_start=week, quantity=12),
    ]
    view = StateView(run(events))
    assert view.forecast_region("north") == 16
    assert view.forecast_model("M1") == 18
    assert view.forecast_region_model("north", "M1") == 12


def test_limits_and_order_record_fields() -> None:
    events = [
        ev(1, "inventory.model_limits", model="M1", reasonable_stock=50, upper_limit=80),
        ev(2, "inventory.region_limits", region="north", reasonable_stock=30),
        order(3, "order.entered", "O1", "north", "M1", quantity=4, amount="1000", special=True),
        order(4, "order.deposit_paid", "O1", "north", "M1", amount="300"),
        order(
            5,
            "order.signed_off",
            "O1",
            "north",
            "M1",
            role="vice_president",
            signer="li",
            document="order",
        ),
    ]
    tables = run(events)
    view = StateView(tables)
    assert (view.stock_reasonable("M1"), view.stock_upper_limit("M1")) == (50, 80)
    assert view.region_reasonable_stock("north") == 30
    record = public(tables["orders"]["O1"])
    assert record["deposit_paid"] == "300"
    assert record["signatures"] == ["vice_president:order"]
    assert record["steps"]["entered"] == "2026-11-02T09:00:00+08:00"
    assert record["special"] is True


def test_table_values_are_json() -> None:
    json.dumps(run(STREAM))


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"type": "order.confirmed"}, "event_id"),
        ({"type": "nope"}, "unknown event type"),
    ],
)
def test_parse_event_names_the_problem(record: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_event(record)


def test_negative_quantity_is_rejected() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        order(1, "order.confirmed", "O1", "north", "M1", quantity=-1, amount="1")


def at(n: int, type_: str, time: str, **fields: Any) -> Event:
    return parse_event(
        {"event_id": f"e{n}", "type": type_, "event_time": time, "source": "erp", **fields}
    )


MONDAY, TUESDAY = "2026-11-02T09:00:00+08:00", "2026-11-03T09:00:00+08:00"


def test_a_re_forwarded_old_forecast_does_not_undo_a_newer_one() -> None:
    week = "2026-11-02"
    old = at(1, "plan.forecast", MONDAY, region="south", model="X3", week_start=week, quantity=8)
    new = at(2, "plan.forecast", TUESDAY, region="south", model="X3", week_start=week, quantity=12)
    tables = run([old, new])
    # After a restart ingest may forward the old record again, under a new offset.
    assert apply_event(tables, old, 9) is False
    view = StateView(tables)
    assert view.forecast_region_model("south", "X3") == 12
    assert (view.forecast_region("south"), view.forecast_model("X3")) == (12, 12)


def test_a_stock_count_dated_earlier_than_the_one_held_changes_nothing() -> None:
    tuesday = at(1, "inventory.stock_level", TUESDAY, model="M1", on_hand=8)
    monday = at(2, "inventory.stock_level", MONDAY, model="M1", on_hand=30)  # resent late
    tables = run([tuesday])
    assert apply_event(tables, monday, 1) is False  # no rule judges a superseded count
    assert StateView(tables).stock_on_hand("M1") == 8


def test_a_models_count_and_its_limits_are_dated_separately() -> None:
    count = at(1, "inventory.stock_level", TUESDAY, model="M1", on_hand=8)
    limits = at(
        2, "inventory.model_limits", MONDAY, model="M1", reasonable_stock=50, upper_limit=80
    )
    view = StateView(run([count, limits]))
    assert (view.stock_on_hand("M1"), view.stock_reasonable("M1")) == (8, 50)


def test_snapshot_tables_do_not_depend_on_arrival_order() -> None:
    week = "2026-11-02"
    snapshots = [
        at(1, "plan.forecast", MONDAY, region="south", model="X3", week_start=week, quantity=8),
        at(2, "plan.forecast", TUESDAY, region="south", model="X3", week_start=week, quantity=12),
        at(3, "plan.forecast", MONDAY, region="north", model="X3", week_start=week, quantity=5),
        at(4, "inventory.stock_level", MONDAY, model="X3", on_hand=40),
        at(5, "inventory.stock_level", TUESDAY, model="X3", on_hand=25),
        at(6, "inventory.region_limits", MONDAY, region="south", reasonable_stock=9),
        at(7, "inventory.region_limits", TUESDAY, region="south", reasonable_stock=11),
    ]
    seen = set()
    for order_ in itertools.permutations(snapshots):
        tables = run(list(order_))
        seen.add(
            json.dumps(
                {name: {k: public(v) for k, v in t.items()} for name, t in tables.items()},
                sort_keys=True,
            )
        )
    assert len(seen) == 1
    view = StateView(run(snapshots))
    assert view.forecast_region_model("south", "X3") == 12
    assert view.forecast_model("X3") == 17
    assert view.stock_on_hand("X3") == 25
    assert view.region_reasonable_stock("south") == 11
