"""Hand-built compiled rules and event helpers for the engine tests (no compiler needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contract.events import Alert, Event, parse_event
from dsl.calendar import DEFAULT_CALENDAR, Calendar
from dsl.compiled import (
    CompiledRule,
    Duration,
    Env,
    Outcome,
    Penalty,
    Schedule,
    Severity,
    Tier,
)
from streams.core.engine import Engine
from streams.core.state import apply_event, empty_tables

SHANGHAI = ZoneInfo("Asia/Shanghai")
Tables = dict[str, dict[str, Any]]


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    """A time in March 2026 (Mon 2 … Fri 6, Sat 7, Mon 9 …), Shanghai."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def event(eid: str, type_: str, when: datetime, **fields: Any) -> Event:
    record = {"event_id": eid, "type": type_, "event_time": when.isoformat(), "source": "erp"}
    return parse_event({**record, **fields})


def order_event(
    eid: str, type_: str, when: datetime, oid: str = "O1", region: str = "east", **fields: Any
) -> Event:
    return event(eid, type_, when, order_id=oid, region=region, model="M1", **fields)


def outcome(
    message: Callable[[Env], str],
    severity: Severity = "warning",
    lets: tuple[tuple[str, Callable[[Env], Any]], ...] = (),
    penalty: Penalty | None = None,
) -> Outcome:
    return Outcome(severity=severity, lets=lets, message=message, penalty=penalty)


def _order(env: Env) -> Any:
    assert env.order is not None
    return env.order


def cap_rule() -> CompiledRule:
    """CAP-1 by hand: region demand must stay below reasonable stock − in transit."""
    return CompiledRule(
        id="CAP-1",
        name="Region demand within its cap",
        source="rules/caps.rule:10",
        kind="event",
        triggers=frozenset({"order.entered"}),
        where=None,
        key_fields=("region", "order_id"),
        labels={"policy": "关键控制点"},
        when=lambda env: bool(env.event.quantity >= env.lets["cap"]),
        outcome=outcome(
            lambda env: f"demand {env.event.quantity} ≥ cap {env.lets['cap']}",
            severity="critical",
            lets=(
                ("stock", lambda env: env.view.region_reasonable_stock(env.event.region)),
                ("in_transit", lambda env: env.view.in_transit_region(env.event.region)),
                ("cap", lambda env: env.lets["stock"] - env.lets["in_transit"]),
            ),
        ),
    )


ONE_BUSINESS_HOUR = Duration(timedelta(hours=1), business=True)


def sla_rule(after: Duration = ONE_BUSINESS_HOUR, calendar: str | None = None) -> CompiledRule:
    """SLA-1 by hand: entered within 1 business hour of receipt."""
    return CompiledRule(
        id="SLA-1",
        name="Entered within 1 hour of receipt",
        source="rules/sla.rule:9",
        kind="deadline",
        triggers=frozenset({"order.received"}),
        where=None,
        key_fields=("order_id",),
        calendar=calendar,
        expect=frozenset({"order.entered"}),
        cancel_on=frozenset({"order.cancelled"}),
        tiers=(
            Tier(
                name="within",
                after=after,
                by=None,
                outcome=outcome(lambda env: f"{env.key['order_id']} not entered by {env.deadline}"),
            ),
        ),
    )


def deposit_rule() -> CompiledRule:
    """DEP-2 by hand: picked up within 7 days (warning), 15 days (critical + fine)."""
    seven = Tier(
        name="7d",
        after=Duration(timedelta(days=7)),
        by=None,
        outcome=outcome(lambda env: f"order {env.key['order_id']} not picked up in 7 days"),
    )
    fifteen = Tier(
        name="15d",
        after=Duration(timedelta(days=15)),
        by=None,
        outcome=outcome(
            lambda env: f"deposit {env.lets['forfeited']} forfeited",
            severity="critical",
            lets=(("forfeited", lambda env: Decimal("0.30") * Decimal(_order(env)["amount"])),),
            penalty=Penalty(amount=lambda env: Decimal(200), who=lambda env: "region manager"),
        ),
    )
    return CompiledRule(
        id="DEP-2",
        name="Special-order goods picked up within the deposit windows",
        source="rules/deposits.rule:20",
        kind="deadline",
        triggers=frozenset({"inventory.stocked"}),
        where=lambda env: bool(env.order is not None and env.order["special"]),
        key_fields=("order_id", "region"),
        expect=frozenset({"order.picked_up"}),
        cancel_on=frozenset({"order.cancelled"}),
        tiers=(seven, fifteen),
    )


def plan_rule() -> CompiledRule:
    """PLAN-1 by hand: next month's plan by 15:00 on the 20th, for each region."""

    def next_month(t: datetime | None) -> str:
        assert t is not None
        local = t.astimezone(SHANGHAI)
        return f"{local.year + local.month // 12}-{local.month % 12 + 1:02d}"

    return CompiledRule(
        id="PLAN-1",
        name="Monthly demand plan submitted by 15:00 on the 20th",
        source="rules/planning.rule:6",
        kind="schedule",
        triggers=frozenset(),
        where=None,
        key_fields=("region",),
        calendar="cn-mainland-2026",
        outcome=outcome(
            lambda env: f"{env.key['region']}: no plan for {next_month(env.deadline)}",
            penalty=Penalty(amount=lambda env: Decimal(100), who=lambda env: "region"),
        ),
        expect=frozenset({"plan.monthly"}),
        expect_where=lambda env: bool(env.event.month == next_month(env.deadline)),
        schedule=Schedule(day=20, at=(15, 0), for_each="region"),
    )


class Run:
    """Tables plus an engine, fed the way the worker feeds them: apply, then judge."""

    def __init__(
        self,
        *rules: CompiledRule,
        calendars: dict[str, Calendar] | None = None,
        timers_follow_events: bool = True,
    ):
        self.engine = Engine(
            list(rules),
            calendars or {},
            DEFAULT_CALENDAR,
            timers_follow_events=timers_follow_events,
        )
        self.tables: Tables = empty_tables()
        self.seq = 0

    def send(self, ev: Event, seq: int | None = None) -> list[Alert]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        apply_event(self.tables, ev, seq)
        return self.engine.on_event(self.tables, ev, seq)

    def tick(self, now: datetime) -> list[Alert]:
        return self.engine.on_tick(self.tables, now)
