"""CAP-1 (``rules/caps.rule``) timed against a hand-written lambda, two ways.

Figure 1, the decision: every contender is called as ``f(event, view, order, env)`` with
the same values (the order record and ``StateView`` built once per event, as the engine
builds them whatever the rules) and gives the same answer: None when the region has no
limit on record (CAP-1's `where`), False below the cap, else the four lets' values. The
compiled rule's contender is ``CompiledRule.decide`` (the closures, the language's one
evaluator); ``rule-engine`` and ``zen-engine`` run alongside.

Figure 2, the engine: ``Engine``'s own code for one event and the rule, given only the
event: the order record and environment (per event) and ``streams.core.engine.verdict`` (the rule's
alert state: key + fingerprint + ``rule_alerts`` entry, then the decision), in two states
of the tables: no CAP-1 alert firing and one firing (for another order). Left out is
building the alert, which a hand-written rule inside the engine would need alike. Before
timing, every contender must agree with the lambda.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rule_engine
import zen

from contract.events import OrderEntered, RegionLimits, WeeklyForecast, parse_event
from dsl.calendar import load_calendars
from dsl.compiled import CompiledRule
from streams.core.engine import Engine, RuleEnv, order_of, rule_env, verdict
from streams.core.state import StateView, Tables, apply_event, empty_tables

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
RULES_FILE = RULES_DIR / "caps.rule"
# CAP-1's `where` and `when`, lets inlined
EXPRESSION = "stock > 0 and quantity >= stock - in_transit + forecast"
REGIONS = ("east", "west", "north", "south")
UNLIMITED = "central"  # a region without limits: only in the probes (see ``Inputs``)
START = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Inputs:
    tables: Tables
    events: tuple[OrderEntered, ...]  # timed
    probes: tuple[OrderEntered, ...]  # not timed: the events and some that `where` skips


def _entered(i: int, region: str) -> OrderEntered:
    return OrderEntered(
        event_id=f"e{i}",
        source="bench",
        event_time=START + timedelta(minutes=i),
        order_id=f"O{i}",
        region=region,
        model="M1",
        quantity=40 + i % 40,
        amount=1000,
    )


def make_inputs(count: int = 64) -> Inputs:
    """Four regions with limits, forecasts and confirmed orders in transit, and ``count``
    entered orders around each region's cap (some at it, some below, some above). The
    probes add orders of a region without limits, so that a contender that forgot CAP-1's
    `where` disagrees."""
    tables = empty_tables()
    seq = 0

    def apply(data: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        data = {"event_id": f"b{seq}", "source": "bench", "event_time": START, **data}
        apply_event(tables, parse_event(data), seq)

    for n, region in enumerate(REGIONS):
        apply({"type": RegionLimits.model_fields["type"].default, "region": region,
               "reasonable_stock": 100 + 10 * n})  # fmt: skip
        apply({"type": WeeklyForecast.model_fields["type"].default, "region": region,
               "model": "M1", "week_start": "2026-03-02", "quantity": 30})  # fmt: skip
        apply({"type": "order.confirmed", "order_id": f"T{n}", "region": region, "model": "M1",
               "quantity": 80, "amount": "1000"})  # fmt: skip
    events = tuple(_entered(i, REGIONS[i % len(REGIONS)]) for i in range(count))
    probes = events + tuple(_entered(count + i, UNLIMITED) for i in range(4))
    return Inputs(tables, events, probes)


def load_cap1() -> CompiledRule:
    """CAP-1 as the loader compiles it from ``rules/caps.rule``."""
    from dsl.loader import load_rules

    rules, diagnostics = load_rules([RULES_FILE])
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise RuntimeError(f"{RULES_FILE} does not load: {errors}")
    return next(r for r in rules if r.id == "CAP-1")


# Every contender is called as f(event, view, order, env) with the same values: the event,
# a StateView and the order record (built once: the engine builds them once per event
# whatever the rules), and an environment built once that only the compiled rule reads.
Evaluate = Callable[[OrderEntered, StateView, Any, RuleEnv], object]
Case = tuple[OrderEntered, StateView, Any, RuleEnv]


def cases(inputs: Inputs, events: Sequence[OrderEntered]) -> list[Case]:
    view, env = StateView(inputs.tables), _env(inputs)
    return [(e, view, order_of(inputs.tables, e), env) for e in events]


def _env(inputs: Inputs) -> RuleEnv:
    return rule_env(None, None, StateView(inputs.tables), START)


def fires(result: object) -> bool:
    """A decision's answer as a bool: the lets' values (a tuple) mean it fires."""
    return isinstance(result, tuple) or result is True


def hand_written(event: OrderEntered, view: StateView, order: Any, env: Any) -> object:
    """What a programmer writes for CAP-1, with the decision's answer: None when the
    region has no limit on record, False below the cap, else the lets' values."""
    stock = view.region_reasonable_stock(event.region)
    if stock <= 0:
        return None  # no limit on record: CAP-1 does not apply
    in_transit = view.in_transit_region(event.region)
    forecast = view.forecast_region(event.region)
    cap = stock - in_transit + forecast
    if event.quantity >= cap:
        return (stock, in_transit, forecast, cap)
    return False


def compiled(rule: CompiledRule) -> Evaluate:
    """The compiled rule's decision (``CompiledRule.decide``), with what the engine does
    for it: the environment holds the event, the order and fresh lets."""

    def evaluate(event: OrderEntered, view: StateView, order: Any, env: RuleEnv) -> object:
        env.event, env.order, env.lets = event, order, {}
        return rule.decide(env)

    return evaluate


def _context(view: StateView, event: OrderEntered) -> dict[str, int]:
    return {
        "quantity": event.quantity,
        "stock": view.region_reasonable_stock(event.region),
        "in_transit": view.in_transit_region(event.region),
        "forecast": view.forecast_region(event.region),
    }


def with_rule_engine() -> Evaluate:
    """``rule_engine.Rule``, compiled once, over a dict context built per event."""
    rule = rule_engine.Rule(EXPRESSION)
    return lambda event, view, order, env: bool(rule.matches(_context(view, event)))


def with_zen() -> Evaluate:
    """``zen.compile_expression``, compiled once, over a dict context built per event."""
    expression = zen.compile_expression(EXPRESSION)
    return lambda event, view, order, env: bool(expression.evaluate(_context(view, event)))


def decisions(inputs: Inputs) -> dict[str, Evaluate]:
    """Figure 1, the decision alone: hand-written first (the reference of the ratios)."""
    rule = load_cap1()
    return {
        "hand-written lambda": hand_written,
        "compiled rule (dsl closures)": compiled(rule),
        f"rule-engine {rule_engine.__version__}": with_rule_engine(),
        "zen-engine expression": with_zen(),
    }


SEQ = 10**9  # newer than anything in the tables: never a redelivery


def engine_path(rule: CompiledRule, tables: Tables) -> Evaluate:
    """The engine's own code per event for one event rule: the order record and the
    environment (``Engine.on_event``), then ``streams.core.engine.verdict`` (key, fingerprint,
    ``rule_alerts`` entry and decision). Given only the event;
    no alert is built (a firing event's verdict is returned instead)."""
    engine = Engine([rule], load_calendars(RULES_DIR / "calendars"))
    prepared, view = engine.rules[rule.id], StateView(tables)

    def evaluate(event: OrderEntered, _view: StateView, _order: Any, _env: RuleEnv) -> object:
        order = order_of(tables, event)  # once per event
        env = rule_env(event, order, view, event.event_time)  # once per event
        found = verdict(prepared, tables, env, event, order, SEQ)  # per rule
        return found is not None and found.fires

    return evaluate


def with_alert_firing(inputs: Inputs, rule: CompiledRule) -> Tables:
    """A copy of the tables where CAP-1 has one alert firing (for an order not among the
    events): every evaluation must then read key, fingerprint and entry."""
    tables = copy.deepcopy(inputs.tables)
    engine = Engine([rule], load_calendars(RULES_DIR / "calendars"))
    big = _entered(10**6, REGIONS[0]).model_copy(update={"quantity": 10**6})
    assert engine.on_event(tables, big, SEQ - 1), "CAP-1 should fire on a huge order"
    return tables


def engine_paths(inputs: Inputs) -> dict[str, Evaluate]:
    """Figure 2, the whole engine path per event, against the same lambda."""
    rule = load_cap1()
    quiet = copy.deepcopy(inputs.tables)
    firing = with_alert_firing(inputs, rule)
    return {
        "hand-written lambda": hand_written,
        "engine, no CAP-1 alert firing": engine_path(rule, quiet),
        "engine, a CAP-1 alert firing": engine_path(rule, firing),
    }


def disagreements(evaluators: Mapping[str, Evaluate], probes: Sequence[Case]) -> list[str]:
    """Probes on which a contender's answer differs from the hand-written one's: whether it
    fires (the probes of a region without limits fire without CAP-1's `where`), and for a
    decision's lets' values or None (`where` false), those too."""
    problems = []
    for name, evaluate in evaluators.items():
        for case in probes:
            got, expected = evaluate(*case), hand_written(*case)
            same = fires(got) == fires(expected)
            if isinstance(got, tuple) or got is None:
                same = same and got == expected
            if not same:
                problems.append(f"{name}: {case[0].order_id} gives {got!r}, not {expected!r}")
    return problems
