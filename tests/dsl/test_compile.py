"""Compiler: closures over Env, constant folding, missing values, templates, tiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract.events import parse_event
from dsl import ast as a
from dsl.builtins import format_duration, format_value
from dsl.check import check
from dsl.compile import _ExprCompiler, compile_file
from dsl.compiled import CompiledRule, Duration
from dsl.errors import CompileError
from dsl.parser import parse
from streams.core.state import StateView, apply_event, empty_tables

SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeCalendar:
    """Mon–Fri working days, 09:00–18:00 working hours, no holidays."""

    name = "fake"
    zone = SHANGHAI

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5

    def next_working_day(self, d: date) -> date:
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def on_schedule(self, d: date, weekdays: frozenset[int]) -> bool:
        return self.is_working_day(d) and d.weekday() in weekdays

    def add_business(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount * 2  # recognisably not wall-clock time

    def start_of_day(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=SHANGHAI)

    def end_of_day(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=SHANGHAI)


@dataclass
class FakeEnv:
    event: Any = None
    order: dict[str, Any] | None = None
    view: Any = None
    lets: dict[str, Any] = field(default_factory=dict)
    key: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    deadline: datetime | None = None
    now: datetime = datetime(2026, 3, 5, 10, tzinfo=SHANGHAI)
    calendar: Any = field(default_factory=FakeCalendar)


def compile_src(src: str) -> list[CompiledRule]:
    parsed = parse(src, "t.rule")
    assert parsed.diagnostics == ()
    return compile_file(parsed.tree, check(parsed.tree, None))


def event(type_: str, when: datetime, **fields: Any) -> Any:
    base = {"event_id": "e1", "type": type_, "event_time": when.isoformat(), "source": "erp"}
    keys = {"order_id": "O1", "region": "east", "model": "M1"}
    return parse_event({**base, **keys, **fields})


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=SHANGHAI)


def tables_after(*events: Any) -> dict[str, Any]:
    tables = empty_tables()
    for seq, e in enumerate(events):
        apply_event(tables, e, seq)
    return tables


def test_literal_sub_expressions_are_folded_at_build_time() -> None:
    expr = parse('rule A "a" { let x = 30% * 200 CNY + 10 CNY }', "t").tree.rules[0]
    let = expr.clauses[0]
    assert isinstance(let, a.LetClause)
    compiler = _ExprCompiler({})
    assert compiler.fold(let.value) == Decimal("70.0")
    fn = compiler.expr(let.value)
    assert fn(None) == Decimal("70.0")  # type: ignore[arg-type]  # a constant needs no env


CAP = """
rule CAP-1 "cap" {
  severity critical
  label policy = "关键控制点"
  on order.entered
  let stock      = region.reasonable_stock[event.region]
  let in_transit = in_transit.region[event.region]
  let cap        = stock - in_transit
  when event.quantity >= cap
  key region, order_id
  message "Region {event.region}: demand {event.quantity} ≥ cap {cap}, amount {event.amount}"
}
"""


def test_event_rule_compiles_to_closures_over_env() -> None:
    [rule] = compile_src(CAP)
    assert (rule.id, rule.kind, rule.triggers, rule.key_fields) == (
        "CAP-1",
        "event",
        frozenset({"order.entered"}),
        ("region", "order_id"),
    )
    assert rule.labels == {"policy": "关键控制点"}
    assert rule.source == "t.rule:2"
    limits = parse_event(
        {"event_id": "l", "type": "inventory.region_limits", "event_time": at(2).isoformat(),
         "source": "erp", "region": "east", "reasonable_stock": 100}
    )  # fmt: skip
    entered = event("order.entered", at(5), quantity=120, amount="1200")
    env = FakeEnv(event=entered, view=StateView(tables_after(limits, entered)))
    assert rule.outcome is not None and rule.when is not None
    for name, expr in rule.outcome.lets:
        env.lets[name] = expr(env)
    assert env.lets == {"stock": 100, "in_transit": 0, "cap": 100}
    assert rule.when(env) is True
    assert rule.outcome.message(env) == "Region east: demand 120 ≥ cap 100, amount 1,200.00 CNY"


ORDER_RULE = """
rule D "d" {
  severity warning
  on order.picked_up
  let waited = event.time - order.stocked_at
  let due = 30% * order.amount
  when waited > 7d and order.deposit_paid < due
  key order_id
  message "waited {waited}, due {due}, promised {order.promised_date}"
}
"""


def test_order_record_fields_are_typed_and_missing_values_make_the_condition_false() -> None:
    [rule] = compile_src(ORDER_RULE)
    assert rule.outcome is not None and rule.when is not None
    received = event("order.received", at(2), quantity=1, amount="1000")
    stocked = parse_event(
        {"event_id": "s", "type": "inventory.stocked", "event_time": at(2, 9).isoformat(),
         "source": "wms", "order_id": "O1", "region": "east", "model": "M1", "quantity": 1}
    )  # fmt: skip
    picked = event("order.picked_up", at(10, 12))
    order = tables_after(received, stocked, picked)["orders"]["O1"]
    env = FakeEnv(event=picked, order=order)
    for name, expr in rule.outcome.lets:
        env.lets[name] = expr(env)
    assert env.lets == {"waited": timedelta(days=8, hours=3), "due": Decimal("300.0")}
    assert rule.when(env) is True
    assert rule.outcome.message(env) == "waited 8d 3h, due 300.00 CNY, promised (missing)"
    # No order record: the lets are None and the condition is false, never an exception.
    bare = FakeEnv(event=picked, order=None)
    for name, expr in rule.outcome.lets:
        bare.lets[name] = expr(bare)
    assert bare.lets == {"waited": None, "due": None}
    assert rule.when(bare) is False


def test_deadline_rule_tiers_and_business_durations() -> None:
    src = """
rule S "s" {
  severity warning
  after order.received
  expect order.entered within 1 business hour
  cancel on order.cancelled
  key order_id
  message "received {start}, due {deadline}"
}
rule T "t" {
  after inventory.stocked
  expect order.picked_up
  key order_id
  tier 7d {
    severity warning
    message "late"
  }
  tier 15d {
    severity critical
    let fine = 200 CNY
    penalty fine to "region manager"
    message "very late: {fine}"
  }
}
"""
    s_rule, t_rule = compile_src(src)
    [tier] = s_rule.tiers
    assert (tier.name, tier.after, tier.by) == (
        "1 business hour",
        Duration(timedelta(hours=1), True),
        None,
    )
    assert s_rule.cancel_on == frozenset({"order.cancelled"}) and s_rule.outcome is None
    env = FakeEnv(start=at(2, 9), deadline=at(2, 10))
    assert tier.outcome.message(env) == (
        "received 2026-03-02T09:00:00+08:00, due 2026-03-02T10:00:00+08:00"
    )
    assert [(x.name, x.after, x.outcome.severity) for x in t_rule.tiers] == [
        ("7d", Duration(timedelta(days=7)), "warning"),
        ("15d", Duration(timedelta(days=15)), "critical"),
    ]
    late = t_rule.tiers[1].outcome
    assert late.penalty is not None
    assert late.penalty.amount(env) is None  # the engine evaluates the lets first
    env.lets = {name: expr(env) for name, expr in late.lets}
    assert (late.penalty.amount(env), late.penalty.who(env)) == (Decimal("200"), "region manager")


def test_schedule_rule_and_calendar_builtins() -> None:
    src = """
calendar "cn-mainland-2026"
rule P "p" {
  severity warning
  every month on day 20 at 15:00
  for each region
  expect plan.monthly where event.month = next_month(deadline)
  key region
  message "{region}: no plan for {next_month(deadline)} by {deadline}, {weekday(deadline)}"
}
"""
    [rule] = compile_src(src)
    assert rule.kind == "schedule" and rule.calendar == "cn-mainland-2026"
    assert rule.schedule is not None
    assert (rule.schedule.day, rule.schedule.at, rule.schedule.for_each) == (20, (15, 0), "region")
    deadline = datetime(2026, 3, 20, 15, tzinfo=SHANGHAI)
    plan = parse_event(
        {"event_id": "p", "type": "plan.monthly", "event_time": at(19).isoformat(),
         "source": "erp", "region": "east", "month": "2026-04", "model": "M1", "quantity": 5}
    )  # fmt: skip
    env = FakeEnv(event=plan, deadline=deadline, key={"region": "east"})
    assert rule.expect_where is not None and rule.expect_where(env) is True
    assert rule.outcome is not None
    assert rule.outcome.message(env) == (
        "east: no plan for 2026-04 by 2026-03-20T15:00:00+08:00, Fri"
    )


def test_on_schedule_and_monthly_deadline() -> None:
    src = """
rule R "r" {
  severity warning
  on order.released
  let due = monthly_deadline(previous_month("2026-04"), 20, 15:00)
  when not on_schedule(event.time, Mon, Thu) and event.time > due
  key order_id
  message "{due}"
}
"""
    [rule] = compile_src(src)
    assert rule.when is not None and rule.outcome is not None
    wednesday = event("order.released", at(25), quantity=1, clerk="c1")
    thursday = event("order.released", at(26), quantity=1, clerk="c1")
    for e, fires in ((wednesday, True), (thursday, False)):
        env = FakeEnv(event=e)
        for name, expr in rule.outcome.lets:
            env.lets[name] = expr(env)
        assert env.lets["due"] == datetime(2026, 3, 20, 15, tzinfo=SHANGHAI)
        assert rule.when(env) is fires


def test_compiling_a_file_with_errors_is_refused() -> None:
    parsed = parse('rule A "a" {\n  on order.entered\n  when nope\n}\n', "t.rule")
    with pytest.raises(CompileError) as err:
        compile_file(parsed.tree, check(parsed.tree, None))
    assert [d.code for d in err.value.diagnostics] == ["E209", "E209", "E202"]


@pytest.mark.parametrize(
    ("value", "type_name", "shown"),
    [
        (Decimal("1200"), "money", "1,200.00 CNY"),
        (Decimal("0.30"), "percent", "30%"),
        (Decimal("120"), "number", "120"),
        (12345, "number", "12,345"),
        (timedelta(days=8, hours=3), "duration", "8d 3h"),
        (timedelta(minutes=45), "duration", "45min"),
        (datetime(2026, 3, 5, 6, tzinfo=ZoneInfo("UTC")), "time", "2026-03-05T14:00:00+08:00"),
        (date(2026, 3, 5), "date", "2026-03-05"),
        (time(15, 0), "time_of_day", "15:00"),
        (3, "weekday", "Thu"),
        (True, "bool", "yes"),
        (frozenset({"b", "a"}), "set<text>", "a, b"),
        (None, "money", "(missing)"),
    ],
)
def test_values_are_formatted_for_people(value: Any, type_name: str, shown: str) -> None:
    assert format_value(value, type_name, SHANGHAI) == shown


def test_negative_and_zero_durations() -> None:
    assert format_duration(-timedelta(hours=2)) == "-2h"
    assert format_duration(timedelta(0)) == "0min"
