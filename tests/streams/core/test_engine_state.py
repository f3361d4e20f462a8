"""The engine's typed state and its one codec: what is stored, what old tables become, and
what an entry that is no engine's shape does (``streams.core.engine.state``)."""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contract.events import Alert, Event
from dsl.calendar import load_calendars
from streams.core.engine import Engine
from streams.core.engine.state import (
    FiringAlert,
    SchedulePeriod,
    StateError,
    Watch,
    decode_alert,
    decode_period,
    decode_watch,
    encode_alert,
    encode_period,
    encode_watch,
    key_text,
)
from tests.streams.core.engine_rules import (
    Run,
    Tables,
    at,
    cap_rule,
    event,
    order_event,
    plan_rule,
    sla_rule,
)

ROOT = Path(__file__).resolve().parents[3]
CALENDARS = load_calendars(ROOT / "rules" / "calendars")

WATCH = Watch(
    rule="SLA-1",
    key={"order_id": "O1"},
    start=at(2, 10),
    seq=3,
    start_event={"event_id": "r1", "type": "order.received"},
    tiers=(("warn", at(2, 11)), ("late", at(3, 11))),
    fired=("warn",),
)


def test_a_watch_stores_nothing_it_can_derive() -> None:
    entry = encode_watch(WATCH)
    assert entry == {
        "rule": "SLA-1",
        "key": {"order_id": "O1"},
        "start": "2026-03-02T10:00:00+08:00",
        "seq": 3,
        "event": {"event_id": "r1", "type": "order.received"},
        "tiers": {"warn": "2026-03-02T11:00:00+08:00", "late": "2026-03-03T11:00:00+08:00"},
        "fired": ["warn"],
    }
    assert decode_watch(entry) == WATCH
    # derived, not stored: the next deadline, the deadline `expect … where` sees, the id
    assert (WATCH.next_deadline, WATCH.expect_deadline, WATCH.event_id) == (
        at(3, 11),
        at(2, 11),
        "r1",
    )
    assert WATCH.table_key() == "SLA-1|order_id=O1"


def test_a_schedule_watch_names_its_period() -> None:
    watch = Watch("PLAN-1", {"region": "west"}, at(20, 15, month=10), None, None,
                  (("deadline", at(20, 15, month=11)),), period=at(20, 15, month=11))  # fmt: skip
    entry = encode_watch(watch)
    assert entry["schedule_deadline"] == "2026-11-20T15:00:00+08:00"
    assert decode_watch(entry) == watch
    assert watch.table_key() == "PLAN-1|region=west|@2026-11-20T15:00:00+08:00"
    assert watch.tier_identity("deadline") == "deadline@2026-11-20T15:00:00+08:00"


def test_old_watch_and_period_shapes_decode_with_their_derived_fields_ignored() -> None:
    old_watch = {**encode_watch(WATCH), "event_id": "r1", "event_type": "order.received",
                 "expect_deadline": "2026-03-02T11:00:00+08:00",
                 "next": "2026-03-03T11:00:00+08:00"}  # fmt: skip
    assert decode_watch(old_watch) == WATCH
    old_period = {
        "deadline": "2026-11-20T15:00:00+08:00",
        "satisfied": ["region=east"],
        "open": {"region=west": ["PLAN-1|region=west|@2026-10-20T15:00:00+08:00"]},
    }
    period = SchedulePeriod(at(20, 15, month=11), frozenset({"region=east"}))
    assert decode_period(old_period) == period
    assert encode_period(period) == {
        "deadline": old_period["deadline"],
        "satisfied": ["region=east"],
    }


def _alert() -> Alert:
    return Run(cap_rule()).engine.on_event(*_cap_firing())[0]


def _cap_firing() -> tuple[Tables, Event, int]:
    run = Run(cap_rule())
    run.send(event("l1", "inventory.region_limits", at(1), region="east", reasonable_stock=10))
    entered = order_event("e1", "order.entered", at(2), quantity=50, amount="1")
    return run.tables, entered, 2


def test_an_alert_entry_is_the_alert_and_its_sequence_number_and_old_status_is_read() -> None:
    firing = FiringAlert(alert=_alert(), seq=7)
    entry = encode_alert(firing)
    assert set(entry) == {"seq", "alert"}  # no status: an entry exists only while it fires
    assert decode_alert(entry) == firing
    assert decode_alert({**entry, "status": "firing"}) == firing  # the old shape
    assert decode_alert({**entry, "status": "resolved"}) is None  # an old resolved memory


@pytest.mark.parametrize(
    "entry",
    [
        {"rule": "SLA-1"},
        {**encode_watch(WATCH), "start": "2026-03-02T10:00:00"},  # no offset
        {**encode_watch(WATCH), "tiers": ["warn"]},
        {**encode_watch(WATCH), "seq": "3"},
        {**encode_watch(WATCH), "event": {"type": "order.received"}},
    ],
)
def test_a_watch_that_is_no_engines_shape_is_a_state_error(entry: dict[str, Any]) -> None:
    with pytest.raises(StateError):
        decode_watch(entry)


# --- a worker restarted on tables written by the engine before typed state ---------------------


def to_old_shapes(tables: Tables) -> Tables:
    """``tables`` as the engine before typed state wrote them: the same entries with their
    derived fields (a watch's ``event_id``, ``event_type``, ``expect_deadline``, ``next``;
    an alert's ``status``; a schedule period's ``open`` map)."""
    old = copy.deepcopy(tables)
    open_by_rule: dict[str, dict[str, list[str]]] = {}
    for wkey, entry in old["rule_timers"].items():
        watch = decode_watch(entry)
        entry["event_id"] = watch.event_id
        entry["event_type"] = (watch.start_event or {}).get("type")
        entry["expect_deadline"] = watch.expect_deadline.isoformat()
        nxt = watch.next_deadline
        entry["next"] = None if nxt is None else nxt.isoformat()
        if watch.period is not None:
            opened = open_by_rule.setdefault(watch.rule, {})
            opened.setdefault(key_text(watch.key), []).append(wkey)
    for entry in old["rule_alerts"].values():
        entry["status"] = "firing"
    for clock_key, entry in old["rule_clock"].items():
        if clock_key.startswith("schedule:"):
            entry["open"] = open_by_rule.get(clock_key.removeprefix("schedule:"), {})
    return old


def _plan(eid: str, region: str, when: datetime) -> Event:
    return event(eid, "plan.monthly", when, region=region, month="2026-12", model="M1", quantity=1)


FIRST = [
    event("l-east", "inventory.region_limits", at(1, month=11), region="east", reasonable_stock=10),
    event("l-west", "inventory.region_limits", at(1, month=11), region="west", reasonable_stock=10),
    order_event("r1", "order.received", at(19, 10, month=11), quantity=5, amount="1000"),
    order_event("e1", "order.entered", at(19, 11, month=11), oid="O2", quantity=50, amount="1"),
    order_event("r2", "order.received", at(19, 12, month=11), oid="O3", quantity=5, amount="1"),
]
TICK = at(21, 9, month=11)  # past SLA-1's deadlines and PLAN-1's November deadline
THEN = [
    order_event("n1", "order.entered", at(23, 10, month=11), quantity=5, amount="1000"),
    order_event("e2", "order.entered", at(23, 11, month=11), oid="O2", quantity=1, amount="1"),
    order_event("c3", "order.cancelled", at(23, 12, month=11), oid="O3", reason="customer"),
    _plan("p-west", "west", at(24, 10, month=11)),
]


def _engine() -> Engine:
    return Engine([cap_rule(), sla_rule(), plan_rule()], CALENDARS)


def _judge(engine: Engine, tables: Tables, events: list[Event], first_seq: int) -> list[Alert]:
    run = Run()
    run.engine, run.tables, run.seq = engine, tables, first_seq
    return [alert for ev in events for alert in run.send(ev)]


def test_a_worker_restarted_on_old_shaped_tables_judges_as_if_nothing_had_changed() -> None:
    engine = _engine()
    tables: Tables = Run().tables
    fired = _judge(engine, tables, FIRST, 0) + engine.on_tick(tables, TICK)
    assert sorted(a.rule_id for a in fired) == ["CAP-1", "PLAN-1", "PLAN-1", "SLA-1", "SLA-1"]
    old = to_old_shapes(tables)
    assert old != tables  # the old shapes differ ...
    same = _judge(_engine(), tables, THEN, len(FIRST))
    restarted = _judge(_engine(), old, THEN, len(FIRST))
    assert restarted == same  # ... and change nothing the engine says
    assert [(a.rule_id, a.status) for a in same] == [
        ("SLA-1", "resolved"),
        ("CAP-1", "resolved"),
        ("SLA-1", "resolved"),
        ("PLAN-1", "resolved"),
    ]
    assert old["rule_timers"].keys() == tables["rule_timers"].keys()
    assert old["rule_alerts"].keys() == tables["rule_alerts"].keys()


def test_an_entry_that_does_not_decode_is_dropped_with_an_error_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = _engine()
    tables: Tables = Run().tables
    _judge(engine, tables, FIRST[:3], 0)
    [wkey] = tables["rule_timers"]
    tables["rule_timers"][wkey] = {"rule": "SLA-1", "start": "yesterday"}
    caplog.set_level(logging.ERROR)
    alerts = _engine().on_tick(tables, TICK)
    assert [a.rule_id for a in alerts] == ["PLAN-1", "PLAN-1"]  # SLA-1's watch is gone
    assert wkey not in tables["rule_timers"]
    assert f"engine state '{wkey}' does not decode" in caplog.text
