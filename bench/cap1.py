"""CAP-1 four ways, on the same inputs: the compiled rule, a hand-written lambda, the
``rule-engine`` package and ``zen-engine``.

Every contender gets the same inputs, the event and a ``StateView`` over the tables (built
once, as the engine builds one per event whatever the rules), and does the whole of one
evaluation: skip a region without a reasonable stock on record, read its reasonable stock,
in-transit quantity and forecast, compute the cap and compare.

The compiled rule runs the engine's own code, not a copy of it: what ``Engine.on_event``
does once per event (``order_of``: the order record; ``rule_env``: the environment its
rules share) and what ``Engine._judge`` does for the rule (``key_of``: the business key;
``judge_event_rule``: bind the environment to the rule, ``where``, the lets in order, kept
for the alert, ``when``). Left out are only the redelivery check and the alert itself
(fingerprint, message, values), which a hand-written rule inside the engine needs alike.

The lambda is what a programmer writes for the rule: one read of the reasonable stock,
for the filter and the cap. The rule reads it twice (in ``where`` and in ``let stock``):
that is part of what is measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rule_engine
import zen

from dsl.calendar import load_calendars
from dsl.compiled import CompiledRule
from streams.engine import Engine, judge_event_rule, order_of, rule_env
from streams.models import OrderEntered, RegionLimits, WeeklyForecast, parse_event
from streams.state import StateView, Tables, apply_event, empty_tables

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


Evaluate = Callable[[OrderEntered], bool]


def compiled(rule: CompiledRule, tables: Tables) -> Evaluate:
    """The engine's code for one event and one event rule (see the module docstring):
    the rule prepared by ``Engine`` as the worker's engine prepares it."""
    prepared = Engine([rule], load_calendars(RULES_DIR / "calendars")).rules[rule.id]
    key_of = prepared.key_of
    view = StateView(tables)

    def evaluate(event: OrderEntered) -> bool:
        order = order_of(tables, event)  # once per event
        env = rule_env(event, order, view, event.event_time)  # once per event
        return bool(judge_event_rule(prepared, env, key_of(event, order)))  # per rule

    return evaluate


def hand_written(tables: Tables) -> Evaluate:
    """What a programmer would write for CAP-1, keeping the lets for the alert."""
    view = StateView(tables)

    def evaluate(event: OrderEntered) -> bool:
        stock = view.region_reasonable_stock(event.region)
        if stock <= 0:
            return False  # no limit on record: CAP-1 does not apply
        in_transit = view.in_transit_region(event.region)
        forecast = view.forecast_region(event.region)
        cap = stock - in_transit + forecast
        return event.quantity >= cap

    return evaluate


def _context(view: StateView, event: OrderEntered) -> dict[str, int]:
    return {
        "quantity": event.quantity,
        "stock": view.region_reasonable_stock(event.region),
        "in_transit": view.in_transit_region(event.region),
        "forecast": view.forecast_region(event.region),
    }


def with_rule_engine(tables: Tables) -> Evaluate:
    """``rule_engine.Rule``, compiled once, over a dict context built per event."""
    view = StateView(tables)
    rule = rule_engine.Rule(EXPRESSION)
    return lambda event: bool(rule.matches(_context(view, event)))


def with_zen(tables: Tables) -> Evaluate:
    """``zen.compile_expression``, compiled once, over a dict context built per event."""
    view = StateView(tables)
    expression = zen.compile_expression(EXPRESSION)
    return lambda event: bool(expression.evaluate(_context(view, event)))


def stages(inputs: Inputs) -> dict[str, Evaluate]:
    """The compiled contender built up step by step, to show where its time goes: the
    per-event part, then the key, then the rule with its clauses added one by one."""
    rule = load_cap1()
    assert rule.outcome is not None  # an event rule
    bare = replace(rule, where=None, when=None, outcome=replace(rule.outcome, lets=()))
    prepared = Engine([rule], load_calendars(RULES_DIR / "calendars")).rules[rule.id]
    tables, view = inputs.tables, StateView(inputs.tables)

    def per_event(event: OrderEntered) -> bool:
        order = order_of(tables, event)
        return rule_env(event, order, view, event.event_time) is None

    def with_key(event: OrderEntered) -> bool:
        order = order_of(tables, event)
        rule_env(event, order, view, event.event_time)
        return not prepared.key_of(event, order)

    return {
        "order record + environment": per_event,
        "+ business key": with_key,
        "+ bind to the rule": compiled(bare, tables),
        "+ where": compiled(replace(bare, where=rule.where), tables),
        "+ 4 lets": compiled(replace(rule, when=None), tables),
        "+ when (= compiled CAP-1)": compiled(rule, tables),
    }


def contenders(inputs: Inputs) -> dict[str, Evaluate]:
    """The four contenders, hand-written first (the reference of the ratios)."""
    return {
        "hand-written lambda": hand_written(inputs.tables),
        "compiled CAP-1 (dsl)": compiled(load_cap1(), inputs.tables),
        f"rule-engine {rule_engine.__version__}": with_rule_engine(inputs.tables),
        "zen-engine expression": with_zen(inputs.tables),
    }


def disagreements(evaluators: Mapping[str, Evaluate], events: Sequence[OrderEntered]) -> list[str]:
    """Events on which a contender's answer differs from the hand-written one's."""
    reference = [next(iter(evaluators.values()))(event) for event in events]
    problems = []
    for name, evaluate in evaluators.items():
        for event, expected in zip(events, reference, strict=True):
            if evaluate(event) != expected:
                problems.append(f"{name}: {event.order_id} gives {not expected}")
    return problems
