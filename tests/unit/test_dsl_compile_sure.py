"""Compiler: the event rules' sure-value closures give what the general closures give."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from dsl.check import check
from dsl.compile import _ExprCompiler, compile_file
from dsl.compiled import CompiledRule
from dsl.parser import parse
from streams import replay
from streams.engine import Engine, judge_event_rule, order_of, rule_env
from streams.models import parse_event
from streams.state import StateView, apply_event, empty_tables

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "demo" / "events.jsonl"


def general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compile as before the hot path existed: every expression in general closures."""
    monkeypatch.setattr(_ExprCompiler, "sure", lambda self, e: None)


def replay_demo() -> tuple[list[str], dict[str, int]]:
    engine = replay.load_engine(ROOT / "rules")
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    events = replay.read_events(lines, lambda n, reason: None)
    result = replay.run(engine, events, None)
    return [replay.alert_json(a) for a in result.alerts], result.errors


def test_the_demo_raises_the_same_alerts_with_and_without_sure_closures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast_alerts, fast_errors = replay_demo()
    general_only(monkeypatch)
    general_alerts, general_errors = replay_demo()
    assert fast_alerts, "the demo should raise alerts"
    assert fast_alerts == general_alerts
    assert fast_errors == general_errors


MIXED = """
rule M "mixed" {
  severity warning
  on order.entered
  where region.reasonable_stock[event.region] > 0 and event.priority != "low"
  let stock = region.reasonable_stock[event.region]
  let per_unit = order.amount / event.quantity
  let spare = stock - event.quantity
  let late = event.promised_date is missing or event.time > start_of_day(event.promised_date)
  when spare < 0 or per_unit > 100 CNY and late
  key region, order_id
  message "{stock} {per_unit} {spare} {late}"
}
"""


def compile_src(src: str) -> CompiledRule:
    parsed = parse(src, "t.rule")
    [rule] = compile_file(parsed.tree, check(parsed.tree, None))
    return rule


BASE = {"source": "erp", "region": "east", "event_time": "2026-03-05T10:00:00+08:00"}


def judge(src: str, **fields: object) -> tuple[bool | None, dict[str, object]]:
    record = {**BASE, "event_id": "e1", "type": "order.entered", "order_id": "O1",
              "model": "M1", "quantity": 10, "amount": "5000", **fields}  # fmt: skip
    limits = parse_event(
        {**BASE, "event_id": "l", "type": "inventory.region_limits", "reasonable_stock": 8}
    )
    event = parse_event(record)
    tables = empty_tables()
    apply_event(tables, limits, 1)
    apply_event(tables, event, 2)
    prepared = Engine([compile_src(src)], {}).rules["M"]
    order = order_of(tables, event)
    env = rule_env(event, order, StateView(tables), event.event_time)
    fires = judge_event_rule(prepared, env, prepared.key_of(event, order))
    return fires, dict(env.lets)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"quantity": 0},  # per_unit divides by zero: missing, the `or` still decides
        {"quantity": 7, "amount": "100"},
        {"quantity": 7, "promised_date": "2026-03-04"},
        {"quantity": 7, "promised_date": "2026-03-09"},
        {"priority": "low"},  # `where` is false
        {"region": "west"},  # no limits: `where` is false
    ],
)
def test_mixed_sure_and_missing_values_judge_as_the_general_closures(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, object]
) -> None:
    fast = judge(MIXED, **fields)
    general_only(monkeypatch)
    assert fast == judge(MIXED, **fields)


def test_a_missing_value_in_a_let_is_none_and_the_rest_is_still_judged() -> None:
    fires, lets = judge(MIXED, quantity=0)
    assert lets == {"stock": 8, "per_unit": None, "spare": 8, "late": True}
    assert fires is False
    fires, lets = judge(MIXED, quantity=9)
    assert lets["spare"] == -1 and lets["per_unit"] == Decimal("5000") / 9
    assert fires is True


def test_where_false_leaves_the_lets_unevaluated() -> None:
    assert judge(MIXED, region="west") == (None, {})
