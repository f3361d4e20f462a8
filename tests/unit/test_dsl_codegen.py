"""Generated decisions (dsl.codegen): the closures' decisions, and no user text in the code."""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dsl import schema as s
from dsl.calendar import load_calendars
from dsl.check import check
from dsl.codegen import VIEW_METHODS, check_source, event_fields
from dsl.compile import compile_file, source_of
from dsl.compiled import CompiledRule
from dsl.errors import CompileError
from dsl.loader import load_rules
from dsl.parser import parse
from streams import engine as engine_module
from streams import replay
from streams.engine import Engine, _closure_decision, fingerprint, order_of, rule_env
from streams.models import Event, parse_event
from streams.state import StateView, Tables, apply_event, empty_tables
from tests.unit.test_dsl_compile_sure import MIXED

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "deploy" / "demo" / "events.jsonl"
SEED = sorted((ROOT / "rules").glob("*.rule"))
EVIL = "x'); import os; ('"
CALENDARS = load_calendars(ROOT / "rules" / "calendars")


def seed_event_rules() -> list[CompiledRule]:
    rules, diagnostics = load_rules(SEED)
    assert not [d for d in diagnostics if d.is_error]
    return [r for r in rules if r.kind == "event"]


def demo_events() -> list[tuple[int, Event]]:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    return list(replay.read_events(lines, lambda n, reason: None))


def compile_src(src: str) -> CompiledRule:
    parsed = parse(src, "t.rule")
    [rule] = compile_file(parsed.tree, check(parsed.tree, None))
    return rule


# --- the generated decision is the closures' decision -------------------------------------


def decide_both(rule: CompiledRule, tables: Tables, event: Event) -> tuple[Any, Any]:
    """The generated decision and the closures' one, each on an environment of its own."""
    prepared = Engine([rule], CALENDARS).rules[rule.id]
    results = []
    for decide in (prepared.decide, _closure_decision(rule.where, prepared_lets(rule), rule.when)):
        order = order_of(tables, event)
        env = rule_env(event, order, StateView(tables), event.event_time, prepared.calendar)
        env.key = prepared.key_of(event, order)
        try:
            results.append(decide(event, env.view, order, env))
        except Exception as exc:  # the same failure counts as the same answer
            results.append(type(exc))
    return results[0], results[1]


def prepared_lets(rule: CompiledRule) -> tuple[tuple[str, Any], ...]:
    assert rule.outcome is not None
    return rule.outcome.lets


def test_every_seed_rule_decides_every_demo_event_as_its_closures() -> None:
    rules = seed_event_rules()
    assert {r.id for r in rules} >= {"CAP-1", "CAP-2", "DEP-1", "DEP-3", "REL-1"}
    assert all(r.decision is not None for r in rules)
    tables, judged, fired = empty_tables(), 0, 0
    for seq, event in demo_events():
        apply_event(tables, event, seq)
        for rule in rules:
            if event.type in rule.triggers:
                generated, closures = decide_both(rule, tables, event)
                assert generated == closures, (rule.id, event.event_id)
                judged += 1
                fired += isinstance(generated, tuple)
    assert judged > 100 and fired > 5  # the demo exercises the rules both ways


def replay_demo() -> tuple[list[str], dict[str, int]]:
    engine = replay.load_engine(ROOT / "rules")
    result = replay.run(engine, demo_events(), None)
    return [replay.alert_json(a) for a in result.alerts], result.errors


def closures_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine as before generated code: every event rule decided by its closures."""

    def closures(rule: CompiledRule) -> tuple[Any, bool]:
        return _closure_decision(rule.where, prepared_lets(rule), rule.when), True

    monkeypatch.setattr(engine_module, "_decision", closures)


def test_the_demo_raises_the_same_alerts_with_generated_code_and_closures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generated = replay_demo()
    closures_only(monkeypatch)
    assert generated[0], "the demo should raise alerts"
    assert generated == replay_demo()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"quantity": 0},  # per_unit divides by zero: missing, the `or` still decides
        {"quantity": 9},
        {"quantity": 7, "amount": "100"},
        {"quantity": 7, "promised_date": "2026-03-04"},
        {"quantity": 7, "promised_date": "2026-03-09"},
        {"priority": "low"},  # `where` is false
        {"region": "west"},  # no limits: `where` is false
    ],
)
def test_sure_values_and_closures_mixed_decide_as_the_closures(fields: dict[str, Any]) -> None:
    rule = compile_src(MIXED)
    assert rule.decision is not None and rule.decision.uses_env
    tables = empty_tables()
    base = {"source": "erp", "region": "east", "event_time": "2026-03-05T10:00:00+08:00"}
    limits = {**base, "event_id": "l", "type": "inventory.region_limits", "reasonable_stock": 8}
    apply_event(tables, parse_event(limits), 1)
    record = {**base, "event_id": "e1", "type": "order.entered", "order_id": "O1",
              "model": "M1", "quantity": 10, "amount": "5000", **fields}  # fmt: skip
    event = parse_event(record)
    apply_event(tables, event, 2)
    generated, closures = decide_both(rule, tables, event)
    assert generated == closures


def test_the_cap_rule_is_written_out_whole_and_reads_its_lookup_once() -> None:
    [cap] = [r for r in seed_event_rules() if r.id == "CAP-1"]
    source = source_of(cap)
    assert source is not None and cap.decision is not None
    assert not cap.decision.uses_env  # no closure: the environment is not even bound
    assert "_c0" not in source and "env." not in source
    assert source.count("view.region_reasonable_stock(event.region)") == 1


# --- no user text in the source -------------------------------------------------------------

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


def test_text_literals_and_names_never_reach_the_generated_source() -> None:
    rule = compile_src(EVIL_RULE)
    source = source_of(rule)
    assert source is not None
    for piece in (EVIL, "import", "os", "__import__", "'", '"', "100"):
        assert piece not in source
    assert "_l0 = view.in_transit_region(_k" in source  # the let `view` is a local, renamed


def fire(rule: CompiledRule, **fields: Any) -> list[str]:
    engine, tables = Engine([rule], {}), empty_tables()
    record = {"event_id": "e1", "type": "order.entered", "source": "erp", "order_id": "O1",
              "region": "east", "model": "M1", "quantity": 10, "amount": "5000",
              "event_time": "2026-03-05T10:00:00+08:00", **fields}  # fmt: skip
    event = parse_event(record)
    apply_event(tables, event, 1)
    return [a.message for a in engine.on_event(tables, event, 1)]


def test_a_rule_with_python_in_its_texts_behaves_as_written() -> None:
    rule = compile_src(EVIL_RULE)
    assert fire(rule) == []
    assert fire(rule, order_id=EVIL) == [f"{EVIL} 0 {EVIL}"]
    assert fire(rule, quantity=101) == [f"{EVIL} 0 {EVIL}"]
    assert fire(rule, quantity=101, region=EVIL) == []  # `where` is false


def allowed_names(triggers: frozenset[str]) -> set[str]:
    fixed = {"def", "decide", "event", "view", "order", "env", "if", "not", "and", "or"}
    fixed |= {"in", "return", "None", "False", "bool", "lets", "_lets"}
    return fixed | {t.method for t in s.TABLES.values()} | event_fields(triggers)


@pytest.mark.parametrize("rule", seed_event_rules(), ids=lambda r: r.id)
def test_generated_source_names_only_whitelisted_identifiers(rule: CompiledRule) -> None:
    source = source_of(rule)
    assert source is not None
    allowed = allowed_names(rule.triggers)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        assert tok.type not in (tokenize.STRING, tokenize.NUMBER), tok.string
        if tok.type == tokenize.NAME and tok.string not in allowed:
            assert re.fullmatch(r"_[kcltn][0-9]+", tok.string), tok.string
    assert all(n.isidentifier() and not keyword.iskeyword(n) for n in event_fields(rule.triggers))


def test_the_source_check_refuses_literals_and_foreign_names() -> None:
    allowed = frozenset(VIEW_METHODS)
    check_source("def decide(event, view, order, env):\n    return (_l0,)\n", allowed)
    with pytest.raises(CompileError, match="literal"):
        check_source("def decide(event, view, order, env):\n    return 'x'\n", allowed)
    with pytest.raises(CompileError, match="literal"):
        check_source("def decide(event, view, order, env):\n    return 1\n", allowed)
    with pytest.raises(CompileError, match="__import__"):
        check_source("def decide(event, view, order, env):\n    __import__\n", allowed)


def test_the_namespace_holds_no_builtins() -> None:
    rule = compile_src(EVIL_RULE)
    assert rule.decision is not None
    assert rule.decision.run.__globals__["__builtins__"] == {}


# --- the engine uses the generated decision only for the closures it came from -----------


def test_a_rule_rebuilt_with_other_closures_is_decided_by_them() -> None:
    [cap] = [r for r in seed_event_rules() if r.id == "CAP-1"]
    assert cap.decision is not None
    assert Engine([cap], CALENDARS).rules["CAP-1"].decide is cap.decision.run
    never = replace(cap, when=lambda env: False)
    assert Engine([never], CALENDARS).rules["CAP-1"].decide is not cap.decision.run


# --- the firing index ------------------------------------------------------------------------


def entered(event_id: str, quantity: int, region: str = "east") -> Event:
    return parse_event({"event_id": event_id, "type": "order.entered", "source": "erp",
                        "order_id": "O1", "region": region, "model": "M1",
                        "quantity": quantity, "amount": "5000",
                        "event_time": "2026-03-05T10:00:00+08:00"})  # fmt: skip


def cap_engine() -> tuple[Engine, dict[str, Any], CompiledRule]:
    [cap] = [r for r in seed_event_rules() if r.id == "CAP-1"]
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
    other = entered("e2", 10).model_copy(update={"order_id": "O2"})
    apply_event(tables, other, 3)
    assert engine.on_event(tables, other, 3) == []  # O2 is not firing: nothing to resolve
    [resolved] = engine.on_event(tables, entered("e3", 10), 4)
    assert resolved.status == "resolved" and resolved.fingerprint == fired.fingerprint
