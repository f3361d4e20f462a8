"""An event rule decided by its compiled closures (``CompiledRule.decide``), the language's
one evaluator: missing values, texts that look like Python, long chains, and failures of
a rule's own expression kept apart from bugs in the engine."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contract.events import Event, parse_event
from dsl.builtins import EvaluationFailed
from dsl.calendar import Calendar, load_calendars
from dsl.check import check
from dsl.compile import compile_file
from dsl.compiled import CompiledRule, Decision
from dsl.loader import load_rules
from dsl.parser import parse
from streams.core.engine import Engine, bind, event_rules, fingerprint, order_of, rule_env
from streams.core.state import StateView, Tables, apply_event, empty_tables

ROOT = Path(__file__).resolve().parents[3]
CALENDARS = load_calendars(ROOT / "rules" / "calendars")
BASE = {"source": "erp", "region": "east", "event_time": "2026-03-05T10:00:00+08:00"}


def compile_src(src: str) -> CompiledRule:
    parsed = parse(src, "t.rule")
    checked = check(parsed.tree, None)
    assert checked.ok, checked.diagnostics
    [rule] = compile_file(parsed.tree, checked)
    return rule


def entered_record(**fields: Any) -> dict[str, Any]:
    return {**BASE, "event_id": "e1", "type": "order.entered", "order_id": "O1",
            "model": "M1", "quantity": 10, "amount": "5000", **fields}  # fmt: skip


def tables_with(event: Event, stock: int = 8) -> Tables:
    tables = empty_tables()
    limits = {**BASE, "event_id": "l", "type": "inventory.region_limits", "reasonable_stock": stock}
    apply_event(tables, parse_event(limits), 1)
    apply_event(tables, event, 2)
    return tables


def decide(rule: CompiledRule, **fields: Any) -> tuple[Decision, dict[str, Any]]:
    """The rule's decision on one entered order, and the lets it left in the environment."""
    event = parse_event(entered_record(**fields))
    tables = tables_with(event)
    prepared = Engine([rule], CALENDARS).rules[rule.id]
    order = order_of(tables, event)
    env = rule_env(event, order, StateView(tables), event.event_time)
    decision = rule.decide(bind(env, prepared, prepared.key_of(event, order)))
    return decision, dict(env.lets)


def fire(rule: CompiledRule, **fields: Any) -> list[str]:
    engine, event = Engine([rule], CALENDARS), parse_event(entered_record(**fields))
    tables = tables_with(event)
    return [a.message for a in engine.on_event(tables, event, 2)]


# --- missing values ----------------------------------------------------------------------

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


@pytest.mark.parametrize(
    ("fields", "fires", "late"),
    [
        ({}, True, True),  # spare -2
        ({"quantity": 0}, False, True),  # per_unit divides by zero: missing, `or` decides
        ({"quantity": 7, "amount": "100"}, False, True),  # 14.29 CNY a unit
        ({"quantity": 7, "promised_date": "2026-03-04"}, True, True),
        ({"quantity": 7, "promised_date": "2026-03-09"}, False, False),
    ],
)
def test_each_let_is_evaluated_in_order_and_when_reads_them(
    fields: dict[str, Any], fires: bool, late: bool
) -> None:
    decision, lets = decide(compile_src(MIXED), **fields)
    assert (decision is not False) is fires
    assert lets["late"] is late and lets["stock"] == 8
    if fires:  # the values of the lets, in order, for the alert
        assert decision == tuple(lets[n] for n in ("stock", "per_unit", "spare", "late"))


def test_a_missing_value_in_a_let_is_none_and_the_rest_is_still_judged() -> None:
    rule = compile_src(MIXED)
    decision, lets = decide(rule, quantity=0)
    assert lets == {"stock": 8, "per_unit": None, "spare": 8, "late": True}
    assert decision is False
    decision, lets = decide(rule, quantity=9)
    assert lets["spare"] == -1 and lets["per_unit"] == Decimal("5000") / 9
    assert decision == (8, Decimal("5000") / 9, -1, True)


@pytest.mark.parametrize("fields", [{"priority": "low"}, {"region": "west"}])
def test_where_false_leaves_the_lets_unevaluated(fields: dict[str, Any]) -> None:
    assert decide(compile_src(MIXED), **fields) == (None, {})


# --- texts that look like Python are texts -------------------------------------------------

EVIL = "x'); import os; ('"
EVIL_RULE = f"""
rule EVIL "{EVIL}" {{
  severity warning
  label note = "{EVIL}"
  on order.entered
  where event.region != "{EVIL}"
  let view = in_transit.region["{EVIL}"]
  let env = event.quantity + view
  let __import__ = "{EVIL}"
  when event.order_id = "{EVIL}" or env > 100
  key order_id
  message "{EVIL} {{view}} {{__import__}}"
}}
"""


def test_a_rule_with_python_in_its_texts_behaves_as_written() -> None:
    rule = compile_src(EVIL_RULE)
    assert fire(rule) == []
    assert fire(rule, order_id=EVIL) == [f"{EVIL} 0 {EVIL}"]
    assert fire(rule, quantity=101) == [f"{EVIL} 0 {EVIL}"]
    assert fire(rule, quantity=101, region=EVIL) == []  # `where` is false


def test_a_rule_rebuilt_with_other_closures_is_decided_by_them() -> None:
    rules, _ = load_rules([ROOT / "rules" / "caps.rule"])
    [cap] = [r for r in rules if r.id == "CAP-1"]
    assert fire(cap, quantity=200)  # over the cap of 8
    assert fire(replace(cap, when=lambda env: False), quantity=200) == []


# --- long rules ----------------------------------------------------------------------------


def models_rule(count: int) -> str:
    listed = " or ".join(f'event.model = "M{i}"' for i in range(count))
    return f"""
rule MODELS "listed models" {{
  severity info
  on order.entered
  when {listed}
  key order_id
  message "model {{event.model}}"
}}
"""


def test_a_rule_listing_201_models_fires_for_each_and_only_for_them() -> None:
    rule = compile_src(models_rule(201))
    assert fire(rule, model="M0") == ["model M0"]
    assert fire(rule, model="M200") == ["model M200"]
    assert fire(rule, model="M201") == []


def test_a_long_sum_is_one_chain_left_to_right() -> None:
    terms = " + ".join(["event.quantity"] * 150)
    rule = compile_src(models_rule(1).replace('when event.model = "M0"', f"when {terms} = 1500"))
    assert fire(rule, quantity=10) == ["model M1"]
    assert fire(rule, quantity=11) == []


# --- a rule's own failure, apart from engine bugs -------------------------------------------

CLOSED = Calendar("closed", ZoneInfo("Asia/Shanghai"), [], set(), set())
BUSINESS = """
rule LATE "answer within 4 business hours" {
  calendar "closed"
  severity info
  on order.entered
  let due = event.time + 4 business hours
  when due < event.time
  key order_id
  message "due {due}"
}
"""


def test_a_calendar_that_cannot_answer_fails_the_expression_naming_its_place() -> None:
    rule = compile_src(BUSINESS)
    event = parse_event(entered_record())
    env = rule_env(event, None, StateView(tables_with(event)), event.event_time, CLOSED)
    with pytest.raises(EvaluationFailed, match=r"t\.rule:6:26: business time: .*no working hours"):
        rule.decide(env)


def test_a_failing_rule_is_counted_and_warned_about_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules, _ = load_rules([ROOT / "rules" / "caps.rule"])
    [cap] = [r for r in rules if r.id == "CAP-1"]
    engine = Engine([compile_src(BUSINESS), cap], {**CALENDARS, "closed": CLOSED})
    tables = tables_with(parse_event(entered_record(event_id="e0", order_id="O0")))
    caplog.set_level(logging.DEBUG, logger="streams.core.engine")
    fired = []
    for n in range(3, 13):
        event = parse_event(entered_record(event_id=f"e{n}", order_id=f"O{n}", quantity=200))
        apply_event(tables, event, n)
        fired += engine.on_event(tables, event, n)
    assert engine.errors == {"LATE": 10}
    assert [a.rule_id for a in fired] == ["CAP-1"] * 10
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # the 1st and the 10th failure
    assert warnings[1].startswith("rule LATE (t.rule:2) not evaluated (10 time(s) so far)")


def test_an_order_field_that_does_not_convert_is_the_rules_problem() -> None:
    rule = compile_src(
        models_rule(1).replace(
            'when event.model = "M0"', "when order.promised_date is present and "
            "order.promised_date < date(event.time)"
        )
    )  # fmt: skip
    engine, event = Engine([rule], CALENDARS), parse_event(entered_record())
    tables = tables_with(event)
    tables["orders"]["O1"] = {**tables["orders"]["O1"], "promised_date": "soon"}
    assert engine.on_event(tables, event, 3) == []
    assert engine.errors == {"MODELS": 1}


def test_a_bug_in_the_engines_bookkeeping_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not "rule CAP-1 not evaluated": an engine bug fails loudly."""

    def broken(*args: Any) -> Any:
        raise KeyError("seq")

    monkeypatch.setattr(event_rules, "read_alert", broken)
    engine, event = Engine([compile_src(MIXED)], CALENDARS), parse_event(entered_record())
    with pytest.raises(KeyError, match="seq"):
        engine.on_event(tables_with(event), event, 3)
    assert engine.errors == {}


def test_a_closure_that_breaks_its_contract_propagates() -> None:
    """A compiled expression raises EvaluationFailed or nothing; a TypeError is a bug."""
    rule = replace(compile_src(MIXED), when=lambda env: env.lets["spare"] + None)
    engine, event = Engine([rule], CALENDARS), parse_event(entered_record())
    with pytest.raises(TypeError):
        engine.on_event(tables_with(event), event, 3)
    assert engine.errors == {}


# --- what an event rule remembers ------------------------------------------------------------


def entered(event_id: str, quantity: int, order_id: str = "O1") -> Event:
    return parse_event(entered_record(event_id=event_id, quantity=quantity, order_id=order_id))


def cap_engine() -> tuple[Engine, Tables, CompiledRule]:
    rules, _ = load_rules([ROOT / "rules" / "caps.rule"])
    [cap] = [r for r in rules if r.id == "CAP-1"]
    tables = empty_tables()
    limits = {"event_id": "l", "type": "inventory.region_limits", "source": "erp",
              "region": "east", "reasonable_stock": 50,
              "event_time": "2026-03-05T09:00:00+08:00"}  # fmt: skip
    apply_event(tables, parse_event(limits), 1)
    return Engine([cap], CALENDARS), tables, cap


def test_an_alert_is_remembered_while_it_fires_and_forgotten_when_it_resolves() -> None:
    """``rule_alerts`` follows what fires, not the history: bounded by the open alerts."""
    engine, tables, _ = cap_engine()
    fp = fingerprint("CAP-1", "", {"region": "east", "order_id": "O1"})
    assert engine.on_event(tables, entered("e1", 10), 2) == []
    assert fp not in tables["rule_alerts"]
    [fired] = engine.on_event(tables, entered("e2", 60), 3)
    assert fired.status == "firing" and tables["rule_alerts"][fp]["alert"]["values"]["cap"] == 50
    # The same event again at its own sequence number (a redelivery) changes nothing.
    assert engine.on_event(tables, entered("e2", 60), 3) == []
    [resolved] = engine.on_event(tables, entered("e3", 10), 4)
    assert resolved.status == "resolved" and resolved.fingerprint == fp
    # It carries the values at resolution and names the event that resolved it.
    assert resolved.values == {
        **{"stock": 50, "in_transit": 0, "forecast": 0, "cap": 50},
        **{"event.quantity": 10, "event.amount": "5000"},
    }
    assert resolved.message == (
        "Resolved by order.entered e3: the condition no longer holds (stock 50, in_transit 0,"
        " forecast 0, cap 50, event.quantity 10, event.amount 5000)"
    )
    assert (resolved.triggered_by, resolved.message != fired.message) == (["e3"], True)
    assert fp not in tables["rule_alerts"]


def test_a_new_engine_resolves_what_an_earlier_one_fired() -> None:
    engine, tables, cap = cap_engine()
    [fired] = engine.on_event(tables, entered("e2", 60), 3)
    fresh = Engine([cap], CALENDARS)
    [resolved] = fresh.on_event(tables, entered("e3", 10), 4)
    assert resolved.status == "resolved" and resolved.fingerprint == fired.fingerprint


def test_an_alert_firing_for_one_key_resolves_by_that_key_only() -> None:
    engine, tables, _ = cap_engine()
    [fired] = engine.on_event(tables, entered("e1", 60), 2)
    other = entered("e2", 10, order_id="O2")
    apply_event(tables, other, 3)
    assert engine.on_event(tables, other, 3) == []  # O2 is not firing: nothing to resolve
    [resolved] = engine.on_event(tables, entered("e3", 10), 4)
    assert resolved.status == "resolved" and resolved.fingerprint == fired.fingerprint
