"""CAP-1 four ways, on the same inputs: the compiled rule, a hand-written lambda, the
``rule-engine`` package and ``zen-engine``.

Every contender does the whole of one evaluation: read the region's reasonable stock,
in-transit quantity and forecast from the tables, compute the cap and compare. The
compiled rule goes through what ``streams.engine`` does for one event rule and one event:
build the environment, ``where``, the ``let``s in order, ``when``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import rule_engine
import zen

from dsl.calendar import DEFAULT_CALENDAR
from dsl.compiled import CompiledRule
from streams.engine import RuleEnv
from streams.models import OrderEntered, RegionLimits, WeeklyForecast, parse_event
from streams.state import StateView, Tables, apply_event, empty_tables

RULES_FILE = Path(__file__).resolve().parents[1] / "rules" / "caps.rule"
EXPRESSION = "quantity >= stock - in_transit + forecast"  # CAP-1's `when`, lets inlined
REGIONS = ("east", "west", "north", "south")
START = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Inputs:
    tables: Tables
    events: tuple[OrderEntered, ...]


def make_inputs(count: int = 64) -> Inputs:
    """Four regions with limits, forecasts and confirmed orders in transit, and ``count``
    entered orders around each region's cap (some at it, some below, some above)."""
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
    events = tuple(
        OrderEntered(
            event_id=f"e{i}",
            source="bench",
            event_time=START + timedelta(minutes=i),
            order_id=f"O{i}",
            region=REGIONS[i % len(REGIONS)],
            model="M1",
            quantity=40 + i % 40,
            amount=1000,
        )
        for i in range(count)
    )
    return Inputs(tables, events)


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
    """The engine's path for one event rule and one event (``Engine._judge`` minus the
    alert bookkeeping, which every contender would need alike)."""
    view = StateView(tables)
    orders = tables["orders"]
    where, when, outcome = rule.where, rule.when, rule.outcome
    assert when is not None and outcome is not None  # CAP-1 is an event rule with `when`
    lets, key_fields = outcome.lets, rule.key_fields

    def evaluate(event: OrderEntered) -> bool:
        key = {name: getattr(event, name) for name in key_fields}
        order = orders.get(event.order_id)
        env = RuleEnv(event, order, view, key, event.event_time, DEFAULT_CALENDAR)
        if where is not None and not where(env):
            return False
        for name, expr in lets:
            env.lets[name] = expr(env)
        return bool(when(env))

    return evaluate


def hand_written(tables: Tables) -> Evaluate:
    """What a programmer would write for CAP-1, keeping the lets for the alert."""
    view = StateView(tables)

    def evaluate(event: OrderEntered) -> bool:
        stock = view.region_reasonable_stock(event.region)
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
