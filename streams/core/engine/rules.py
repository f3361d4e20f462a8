"""A compiled rule as the engine runs it, the environment its expressions read, and the
context every rule kind's module shares (``Judging``: the rules, the rule-set version, the
count of a rule's own failures).

A rule whose own expression fails on the data (``dsl.builtins.EvaluationFailed``: a
calendar out of range, a value the alert needs that is missing, an event without the
rule's key) does not fire for that evaluation; ``Judging.failed`` counts it per rule and
logs it at WARNING the 1st, 10th, 100th … time. Nothing else is caught: an exception out
of the engine's own code is a bug and propagates, never mistaken for rule data.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from contract.events import EVENT_TYPES, Event
from dsl.builtins import EvaluationFailed
from dsl.calendar import DEFAULT_CALENDAR, Calendar
from dsl.compiled import CompiledRule, Outcome, Tier
from streams.core.state import StateView, Tables
from streams.exceptions import StreamsError

log = logging.getLogger("streams.core.engine")

SCHEDULE_TIER = "deadline"  # tier name of a schedule rule written without `tier` blocks


class EngineError(StreamsError, ValueError):
    """A rule set the engine cannot run (unknown calendar, rule without an outcome)."""


# --- the environment a compiled expression reads ----------------------------------------


class RuleEnv:
    """One evaluation's view of the world (implements ``dsl.compiled.Env``).

    Built by ``rule_env`` once per event and shared by every rule the event concerns;
    ``bind`` fits it to each rule: key, calendar, ``start`` / ``deadline``, fresh lets.
    No ``__init__`` on purpose: calling a Python ``__init__`` costs more than the
    attribute stores, and this is built for every event.
    """

    __slots__ = ("calendar", "deadline", "event", "key", "lets", "now", "order", "start", "view")

    event: Any
    order: Mapping[str, Any] | None
    view: Any
    key: Mapping[str, str]
    now: datetime
    calendar: Any
    start: datetime | None
    deadline: datetime | None
    lets: dict[str, Any]


_NO_KEY: Mapping[str, str] = MappingProxyType({})


def rule_env(
    event: Event | None,
    order: Mapping[str, Any] | None,
    view: StateView,
    now: datetime,
    calendar: Calendar = DEFAULT_CALENDAR,
) -> RuleEnv:
    """An environment not bound to a rule yet (see ``bind``): no key, start, deadline or
    lets. ``on_event`` builds one per event; written out flat because of that."""
    env = RuleEnv()
    env.event = event
    env.order = order
    env.view = view
    env.now = now
    env.calendar = calendar
    env.key = _NO_KEY
    env.start = None
    env.deadline = None
    env.lets = {}
    return env


def bind(
    env: RuleEnv,
    prepared: Prepared,
    key: Mapping[str, str],
    start: datetime | None = None,
    deadline: datetime | None = None,
) -> RuleEnv:
    """Fit the shared event environment to one rule: nothing of the previous rule stays."""
    env.key, env.calendar, env.start, env.deadline = key, prepared.calendar, start, deadline
    env.lets = {}
    return env


def order_of(tables: Tables, event: Event | None) -> Mapping[str, Any] | None:
    """The order record of ``event``'s order id (None for events without one)."""
    order_id = getattr(event, "order_id", None)
    return tables["orders"].get(order_id) if isinstance(order_id, str) else None


# --- a rule prepared once ---------------------------------------------------------------------

KeyOf = Callable[[Event, Mapping[str, Any] | None], dict[str, str]]


@dataclass(frozen=True)
class Prepared:
    """A compiled rule with what the engine derives from it once."""

    rule: CompiledRule
    calendar: Calendar
    tiers: tuple[Tier, ...]
    key_of: KeyOf  # the business key of a trigger event (see ``_key_function``)
    let_names: tuple[str, ...] = ()  # event rules: the names of ``CompiledRule.decide``'s values

    @property
    def outcome(self) -> Outcome:
        """An event rule's outcome (``prepare`` refused event rules without one)."""
        assert self.rule.outcome is not None
        return self.rule.outcome


def _key_from(
    fields: tuple[str, ...], event: Event, order: Mapping[str, Any] | None
) -> dict[str, str]:
    """The business key of ``event``; a name the event lacks comes from the order record."""
    key: dict[str, str] = {}
    for name in fields:
        value = getattr(event, name, None)
        if value is None and order is not None:
            value = order.get(name)
        if not isinstance(value, str):
            raise EvaluationFailed(f"{event.type} has no key field {name!r}")
        key[name] = value
    return key


def _key_is_sure(rule: CompiledRule) -> bool:
    """Whether every trigger type has every key field as a required text (validated by
    pydantic, so never None): then the key is read straight from the event, never fails."""
    models = [EVENT_TYPES.get(t) for t in rule.triggers]
    return rule.kind == "event" and all(
        model is not None
        and all(
            (info := model.model_fields.get(name)) is not None
            and info.annotation is str
            and info.is_required()
            for name in rule.key_fields
        )
        for model in models
    )


def _key_function(rule: CompiledRule) -> KeyOf:
    """``_key_from`` for the rule's trigger events, built once: read straight from the
    event when the key is sure (``_key_is_sure``); otherwise each name may fall back to
    the order."""
    fields = rule.key_fields
    if not _key_is_sure(rule) or len(fields) > 3:
        return lambda event, order: _key_from(fields, event, order)
    if len(fields) == 3:
        first, second, third = fields
        return lambda event, order: {
            first: getattr(event, first),
            second: getattr(event, second),
            third: getattr(event, third),
        }
    if len(fields) == 2:
        first, second = fields
        return lambda event, order: {first: getattr(event, first), second: getattr(event, second)}
    if len(fields) == 1:
        (first,) = fields
        return lambda event, order: {first: getattr(event, first)}
    return lambda event, order: {}


def default_calendar(calendars: Mapping[str, Calendar], default: Calendar | str | None) -> Calendar:
    """The calendar of rules that name none: given, named among ``calendars``, or built in."""
    if isinstance(default, Calendar):
        return default
    if default is None:
        return DEFAULT_CALENDAR
    if default not in calendars:
        known = ", ".join(sorted(calendars)) or "none"
        raise EngineError(f"unknown default calendar {default!r} (known: {known})")
    return calendars[default]


def _calendar(rule: CompiledRule, calendars: Mapping[str, Calendar], default: Calendar) -> Calendar:
    if rule.calendar is None:
        return default
    if rule.calendar in calendars:
        return calendars[rule.calendar]
    known = ", ".join(sorted(calendars)) or "none"
    raise EngineError(
        f"{rule.source}: rule {rule.id} names unknown calendar {rule.calendar!r} (known: {known})"
    )


def _tiers(rule: CompiledRule) -> tuple[Tier, ...]:
    """The rule's tiers; a schedule rule without `tier` blocks fires once, at its deadline."""
    if rule.kind == "event" or rule.tiers:
        return rule.tiers
    if rule.outcome is None:
        raise EngineError(f"{rule.source}: rule {rule.id} has neither tiers nor an outcome")
    return (Tier(name=SCHEDULE_TIER, after=None, by=None, outcome=rule.outcome),)


def prepare(rule: CompiledRule, calendars: Mapping[str, Calendar], default: Calendar) -> Prepared:
    """``rule`` ready to run, or ``EngineError`` for a rule the engine cannot run."""
    calendar = _calendar(rule, calendars, default)
    if rule.kind == "event" and rule.outcome is None:
        raise EngineError(f"{rule.source}: event rule {rule.id} has no outcome")
    tiers = _tiers(rule)
    if rule.kind == "schedule" and rule.schedule is None:
        raise EngineError(f"{rule.source}: schedule rule {rule.id} has no schedule")
    if rule.kind == "deadline" and any(t.after is None and t.by is None for t in tiers):
        raise EngineError(f"{rule.source}: deadline rule {rule.id} has a tier without a time")
    if rule.kind != "event":
        return Prepared(rule, calendar, tiers, _key_function(rule))
    assert rule.outcome is not None
    let_names = tuple(name for name, _ in rule.outcome.lets)
    return Prepared(rule, calendar, tiers, _key_function(rule), let_names)


# --- what the rule kinds share ----------------------------------------------------------------


def _is_power_of_ten(n: int) -> bool:
    while n % 10 == 0:
        n //= 10
    return n == 1


class Judging:
    """The rules by id, the rule-set version each alert names, and the failures per rule."""

    def __init__(self, rules: Mapping[str, Prepared], rule_set: str | None) -> None:
        self.rules = dict(rules)
        self.rule_set = rule_set
        # rule id -> evaluations that failed on the rule's own expression (never reset)
        self.errors: Counter[str] = Counter()

    def failed(self, prepared: Prepared, exc: EvaluationFailed) -> None:
        """Count a failure of the rule's own expression and say so."""
        rule_id = prepared.rule.id
        self.errors[rule_id] += 1
        count = self.errors[rule_id]
        # Every failure is counted; a warning at the 1st, 10th, 100th … keeps a rule that
        # fails on every order visible without drowning the log.
        level = logging.WARNING if _is_power_of_ten(count) else logging.DEBUG
        log.log(
            level,
            "rule %s (%s) not evaluated (%d time(s) so far): %s",
            rule_id,
            prepared.rule.source,
            count,
            exc,
        )
